import Foundation
import XCTest
@testable import NFXCore

final class OptimalAssignmentTests: XCTestCase {
    // MARK: Helpers

    /// The best total over every way of making min(rows, columns) pairs with distinct columns, by enumeration.
    private func bruteForceBest(_ scores: [Double], rows: Int, columns: Int, maximize: Bool) -> Double {
        let pairs = min(rows, columns)
        var best = maximize ? -Double.infinity : Double.infinity
        var used = [Bool](repeating: false, count: columns)
        func visit(_ row: Int, made: Int, total: Double) {
            if row == rows {
                if made == pairs { best = maximize ? max(best, total) : min(best, total) }
                return
            }
            // Leave this row out only if the remaining rows can still make up the pairs.
            if rows - row - 1 >= pairs - made { visit(row + 1, made: made, total: total) }
            guard made < pairs else { return }
            for c in 0..<columns where !used[c] {
                used[c] = true
                visit(row + 1, made: made + 1, total: total + scores[row * columns + c])
                used[c] = false
            }
        }
        visit(0, made: 0, total: 0)
        return best
    }

    /// Checks the shape of an assignment (distinct columns, min(rows, columns) pairs) and returns its total.
    private func checkedTotal(_ assignment: [Int?], _ scores: [Double], rows: Int, columns: Int,
                              file: StaticString = #filePath, line: UInt = #line) -> Double {
        XCTAssertEqual(assignment.count, rows, file: file, line: line)
        let matched = assignment.compactMap { $0 }
        XCTAssertEqual(matched.count, min(rows, columns), "pairs made", file: file, line: line)
        XCTAssertEqual(Set(matched).count, matched.count, "a column used twice", file: file, line: line)
        XCTAssert(matched.allSatisfy { (0..<columns).contains($0) }, "column out of range", file: file, line: line)
        var total = 0.0
        for (r, c) in assignment.enumerated() {
            if let c { total += scores[r * columns + c] }
        }
        return total
    }

    private func randomMatrix(_ rng: inout SeededGenerator, rows: Int, columns: Int, integers: Bool) -> [Double] {
        (0..<(rows * columns)).map { _ in
            // Small integers make many tied optima; normals give negative, distinct values.
            integers ? Double(rng.int(below: 4)) - 1 : 3 * rng.normal()
        }
    }

    // MARK: Optimality against enumeration

    func testMaximizingMatchesBruteForceOnRandomSquareAndRectangularMatrices() {
        var rng = SeededGenerator(seed: 20_240_601)
        var shapes: [(Int, Int)] = []
        for n in 1...6 { shapes.append((n, n)) }
        for r in 1...5 { for c in (r + 1)...7 { shapes.append((r, c)) } }
        for c in 1...5 { for r in (c + 1)...7 { shapes.append((r, c)) } }
        for (rows, columns) in shapes {
            for trial in 0..<12 {
                let scores = randomMatrix(&rng, rows: rows, columns: columns, integers: trial % 2 == 0)
                let assignment = OptimalAssignment.maximizing(scores: scores, rows: rows, columns: columns)
                let total = checkedTotal(assignment, scores, rows: rows, columns: columns)
                let best = bruteForceBest(scores, rows: rows, columns: columns, maximize: true)
                XCTAssertEqual(total, best, accuracy: 1e-9, "\(rows)×\(columns) trial \(trial)")
            }
        }
    }

    func testMinimizingMatchesBruteForceOnRandomSquareAndRectangularMatrices() {
        var rng = SeededGenerator(seed: 77)
        let shapes = [(1, 1), (3, 3), (4, 4), (6, 6), (2, 5), (5, 7), (7, 5), (6, 3), (1, 7), (7, 1)]
        for (rows, columns) in shapes {
            for trial in 0..<15 {
                let costs = randomMatrix(&rng, rows: rows, columns: columns, integers: trial % 3 == 0)
                let assignment = OptimalAssignment.minimizing(costs: costs, rows: rows, columns: columns)
                let total = checkedTotal(assignment, costs, rows: rows, columns: columns)
                let best = bruteForceBest(costs, rows: rows, columns: columns, maximize: false)
                XCTAssertEqual(total, best, accuracy: 1e-9, "\(rows)×\(columns) trial \(trial)")
            }
        }
    }

    func testHugeFiniteScoresDoNotOverflowTheSolver() {
        var rng = SeededGenerator(seed: 5)
        for trial in 0..<10 {
            let scores = (0..<25).map { _ in rng.uniform(in: -1..<1) * 1e307 }
            let assignment = OptimalAssignment.maximizing(scores: scores, rows: 5, columns: 5)
            // Scaled down so the checked totals themselves stay finite; the power-of-two scaling is exact.
            let scaled = scores.map { $0 * 1e-300 }
            let total = checkedTotal(assignment, scaled, rows: 5, columns: 5)
            let best = bruteForceBest(scaled, rows: 5, columns: 5, maximize: true)
            XCTAssertEqual(total, best, accuracy: 1e-6 * abs(best), "trial \(trial)")
        }
    }

    // MARK: Structure

    func testRecoversAHiddenPermutationFromAPermutedIdentity() {
        var rng = SeededGenerator(seed: 11)
        for n in [1, 2, 5, 17, 40] {
            var permutation = Array(0..<n)
            rng.shuffle(&permutation)
            var scores = (0..<(n * n)).map { _ in rng.uniform(in: 0..<0.5) }
            for r in 0..<n { scores[r * n + permutation[r]] = 1 }
            let assignment = OptimalAssignment.maximizing(scores: scores, rows: n, columns: n)
            XCTAssertEqual(assignment, permutation.map { Optional($0) }, "n = \(n)")
        }
    }

    func testIdentityMatrixIsMatchedToItself() {
        let n = 8
        var scores = [Double](repeating: 0, count: n * n)
        for i in 0..<n { scores[i * n + i] = 1 }
        XCTAssertEqual(OptimalAssignment.maximizing(scores: scores, rows: n, columns: n), (0..<n).map { $0 })
        XCTAssertEqual(OptimalAssignment.minimizing(costs: scores.map { 1 - $0 }, rows: n, columns: n),
                       (0..<n).map { $0 })
    }

    func testAllEqualScoresStillGiveAFullValidAssignment() {
        for (rows, columns) in [(4, 4), (3, 6), (6, 3)] {
            let scores = [Double](repeating: 2.5, count: rows * columns)
            let assignment = OptimalAssignment.maximizing(scores: scores, rows: rows, columns: columns)
            XCTAssertEqual(checkedTotal(assignment, scores, rows: rows, columns: columns),
                           2.5 * Double(min(rows, columns)))
        }
    }

    func testTallMatrixLeavesTheWorstRowsUnmatched() {
        // Three rows compete for two columns; row 1 is the weakest everywhere.
        let scores: [Double] = [5, 1,
                                0, 0,
                                1, 5]
        XCTAssertEqual(OptimalAssignment.maximizing(scores: scores, rows: 3, columns: 2), [0, nil, 1])
        XCTAssertEqual(OptimalAssignment.minimizing(costs: scores.map { -$0 }, rows: 3, columns: 2), [0, nil, 1])
    }

    func testEmptyInputsReturnWithoutPairs() {
        XCTAssertEqual(OptimalAssignment.maximizing(scores: [], rows: 0, columns: 0), [])
        XCTAssertEqual(OptimalAssignment.maximizing(scores: [], rows: 0, columns: 5), [])
        XCTAssertEqual(OptimalAssignment.maximizing(scores: [], rows: 3, columns: 0), [nil, nil, nil])
        XCTAssertEqual(OptimalAssignment.minimizing(costs: [], rows: 0, columns: 4), [])
        XCTAssertEqual(OptimalAssignment.minimizing(costs: [], rows: 2, columns: 0), [nil, nil])
    }

    // MARK: Non-finite entries

    func testNaNScoresAreAvoidedAndDoNotHang() {
        let nan = Double.nan
        let scores: [Double] = [nan, 1, 9,
                                2, nan, 8,
                                3, 4, nan]
        // 9 + 2 + 4 = 15 would be best if NaN entries were ignored; it uses no NaN, so it must be chosen.
        XCTAssertEqual(OptimalAssignment.maximizing(scores: scores, rows: 3, columns: 3), [2, 0, 1])
        XCTAssertEqual(OptimalAssignment.minimizing(costs: scores, rows: 3, columns: 3), [1, 2, 0])

        let allNaN = [Double](repeating: .nan, count: 12)
        for (rows, columns) in [(3, 4), (4, 3)] {
            let assignment = OptimalAssignment.maximizing(scores: allNaN, rows: rows, columns: columns)
            XCTAssertEqual(assignment.compactMap { $0 }.count, 3)
            XCTAssertEqual(Set(assignment.compactMap { $0 }).count, 3)
        }
    }

    func testInfiniteScoresArePreferredOrAvoidedAsTheirSignSays() {
        let inf = Double.infinity
        // Row 0 takes its +∞; row 1 is then left with 7, −∞ or NaN and must take the 7.
        let scores: [Double] = [100, inf, 50,
                                7, -inf, .nan]
        XCTAssertEqual(OptimalAssignment.maximizing(scores: scores, rows: 2, columns: 3), [1, 0])
        // +∞ and NaN costs are avoided even when the only alternative is a poor finite cost.
        let costs: [Double] = [inf, 1e6,
                               0, .nan]
        XCTAssertEqual(OptimalAssignment.minimizing(costs: costs, rows: 2, columns: 2), [1, 0])
        // −∞ costs are wanted when minimising.
        XCTAssertEqual(OptimalAssignment.minimizing(costs: [1, -inf, -5, 2], rows: 2, columns: 2), [1, 0])
    }

    func testUnavoidableNonFiniteEntriesStillGiveTheBestFiniteRemainder() {
        // Column 2 is NaN or −∞ everywhere, so one row must take it; the rest should still be optimal.
        let nan = Double.nan, inf = Double.infinity
        let scores: [Double] = [5, 1, nan,
                                1, 5, -inf,
                                4, 4, nan]
        let assignment = OptimalAssignment.maximizing(scores: scores, rows: 3, columns: 3)
        XCTAssertEqual(assignment.compactMap { $0 }.sorted(), [0, 1, 2])
        XCTAssertEqual(assignment[0], 0)
        XCTAssertEqual(assignment[1], 1)
    }

    // MARK: Scale

    func testLargeRandomMatrixBeatsGreedy() {
        let n = 200
        var rng = SeededGenerator(seed: 2024)
        let scores = (0..<(n * n)).map { _ in rng.uniform(in: 0..<1) }
        let assignment = OptimalAssignment.maximizing(scores: scores, rows: n, columns: n)
        let total = checkedTotal(assignment, scores, rows: n, columns: n)

        // Greedy: repeatedly take the largest remaining entry whose row and column are both free.
        let order = (0..<(n * n)).sorted { scores[$0] > scores[$1] }
        var rowFree = [Bool](repeating: true, count: n), columnFree = rowFree
        var greedy = 0.0
        for k in order where rowFree[k / n] && columnFree[k % n] {
            rowFree[k / n] = false
            columnFree[k % n] = false
            greedy += scores[k]
        }
        XCTAssertGreaterThanOrEqual(total, greedy - 1e-9)
    }
}
