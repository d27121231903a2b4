import Foundation
import XCTest
@testable import NFXCore

final class SpinningTeamTests: XCTestCase {
    /// How often each index ran, and on which threads.
    private final class Record: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var counts: [Int]
        private(set) var threads = Set<ObjectIdentifier>()
        private(set) var order: [Int] = []
        init(_ count: Int) { counts = Array(repeating: 0, count: count) }
        func ran(_ index: Int) {
            lock.lock()
            counts[index] += 1
            order.append(index)
            threads.insert(ObjectIdentifier(Thread.current))
            lock.unlock()
        }
    }

    func testEveryIterationRunsExactlyOnceOverManyLoops() {
        let team = SpinningTeam()
        var generator = SeededGenerator(seed: 3)
        for loop in 0..<3000 {
            let iterations = Int.random(in: 1...40, using: &generator)
            let record = Record(iterations)
            team.run(iterations: iterations, threads: 2) { record.ran($0) }
            XCTAssertEqual(record.counts, Array(repeating: 1, count: iterations), "loop \(loop)")
        }
    }

    func testLoopsOfAlternatingSizesRunEachIterationOnce() {
        // A helper finishing the last iteration of a short loop must not take an iteration of the longer loop
        // that follows (a review found it could: the count was published before the loop's generation). The
        // pause widens the window between the two.
        let team = SpinningTeam()
        team.pauseBeforeTicket = { usleep(20) }
        let counts = Record(8)
        var runs = 0
        for loop in 0..<4_000 {
            let iterations = loop % 2 == 0 ? 2 : 8
            team.run(iterations: iterations, threads: 2) { counts.ran($0) }
            runs += 1
            if loop % 2 == 1 {
                let expected = (0..<8).map { $0 < 2 ? runs : runs / 2 }
                if counts.counts != expected {
                    XCTFail("loop \(loop): \(counts.counts), expected \(expected)")
                    return
                }
            }
        }
    }

    /// A loop on two threads whose iterations each take a while, so that the helper takes part.
    private func slowLoop(on team: SpinningTeam, iterations: Int, microseconds: UInt32) -> Record {
        let record = Record(iterations)
        team.run(iterations: iterations, threads: 2) { index in
            record.ran(index)
            usleep(microseconds)
        }
        return record
    }

    func testHelpersThatFellAsleepRunTheNextLoop() {
        let team = SpinningTeam()
        for _ in 0..<3 {
            let record = slowLoop(on: team, iterations: 64, microseconds: 200)
            XCTAssertEqual(record.counts, Array(repeating: 1, count: 64))
            // Longer than the helpers spin: they are asleep when the next loop starts.
            usleep(UInt32(3 * SpinningTeam.spinNanoseconds / 1000))
        }
    }

    func testNoMoreThreadsThanAskedTakePart() {
        let team = SpinningTeam()
        team.wake(helpers: 3)
        for _ in 0..<50 {
            let record = slowLoop(on: team, iterations: 32, microseconds: 50)
            XCTAssertEqual(record.counts, Array(repeating: 1, count: 32))
            XCTAssertLessThanOrEqual(record.threads.count, 2)
        }
    }

    func testALoopInsideALoopRunsEveryIteration() {
        let team = SpinningTeam()
        let outer = Record(4), inner = Record(4 * 8)
        team.run(iterations: 4, threads: 2) { i in
            outer.ran(i)
            team.run(iterations: 8, threads: 2) { j in inner.ran(i * 8 + j) }
        }
        XCTAssertEqual(outer.counts, Array(repeating: 1, count: 4))
        XCTAssertEqual(inner.counts, Array(repeating: 1, count: 32))
    }

    func testOneThreadRunsOnTheCallerInOrder() {
        let team = SpinningTeam()
        let record = Record(5)
        team.run(iterations: 5, threads: 1) { record.ran($0) }
        XCTAssertEqual(record.order, [0, 1, 2, 3, 4])
        XCTAssertEqual(record.threads, [ObjectIdentifier(Thread.current)])
    }
}
