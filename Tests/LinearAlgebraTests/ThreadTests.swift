import Foundation
import XCTest
import LinearAlgebra

final class ThreadTests: XCTestCase {
    func testSetThenCountRoundTrips() {
        let original = BLASThreads.count
        defer { BLASThreads.set(original) }
        XCTAssertGreaterThanOrEqual(original, 1)
        BLASThreads.set(1)
        XCTAssertEqual(BLASThreads.count, 1)
        BLASThreads.set(2)
        XCTAssertEqual(BLASThreads.count, 2)
    }

    func testWithSingleThreadedBLASRestoresPreviousCountEvenOnThrow() {
        let original = BLASThreads.count
        defer { BLASThreads.set(original) }
        BLASThreads.set(2)
        let inside = withSingleThreadedBLAS { BLASThreads.count }
        XCTAssertEqual(inside, 1)
        XCTAssertEqual(BLASThreads.count, 2)

        struct Stop: Error {}
        XCTAssertThrowsError(try withSingleThreadedBLAS { throw Stop() })
        XCTAssertEqual(BLASThreads.count, 2)
    }

    /// Threads of this process that carry its own name (/proc, Linux): the main thread and OpenBLAS' workers,
    /// which inherit it, but not Dispatch's pool threads, which are named for their queues and come and go.
    private func threadCount() -> Int {
        let name = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let own = name("/proc/self/comm")
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { name("/proc/self/task/\($0)/comm") == own }.count
    }

    func testOneThreadStopsTheWorkersAndMoreStartsThemAgain() throws {
        let original = BLASThreads.count
        defer { BLASThreads.set(original) }
        let size = 400
        let a = Matrix(rows: size, columns: size, elements: (0..<size * size).map { sin(Double($0)) })
        let b = Matrix(rows: size, columns: size, elements: (0..<size * size).map { cos(0.7 * Double($0)) })
        BLASThreads.set(2)
        let threaded = try multiply(a, b)
        let withWorkers = threadCount()
        BLASThreads.set(1)
        // Debian's default OpenBLAS is the pthread build, whose worker (one for two threads) this stops.
        XCTAssertLessThan(threadCount(), withWorkers, "OpenBLAS' idle worker should be gone")
        let single = try multiply(a, b)
        BLASThreads.set(2)
        let again = try multiply(a, b)
        XCTAssertEqual(threadCount(), withWorkers, "a threaded call starts the worker again")
        for (x, y) in zip(single.elements, again.elements) { XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(x))) }
        XCTAssertEqual(threaded.elements, again.elements)
    }

    func testConfigurationNamesOpenBLASAndCore() {
        let configuration = BLASThreads.configuration
        XCTAssertTrue(configuration.contains("OpenBLAS"), configuration)
        XCTAssertTrue(configuration.contains("core: "), configuration)
    }
}
