import XCTest
@testable import NFXCore

final class SelectionTests: XCTestCase {
    func testSelectNthEqualsTheSortedArraysElementWithTiesAndEveryRank() {
        var generator = SeededGenerator(seed: 11)
        for count in [1, 2, 3, 10, 101, 1000] {
            // Few distinct values, so ties are common.
            let values = (0..<count).map { _ in Double(generator.int(below: 7)) + (count > 100 ? generator.uniform(in: 0..<1) : 0) }
            let sorted = values.sorted()
            for k in Set([0, count / 2, count - 1, count / 3]) {
                var copy = values
                XCTAssertEqual(selectNth(&copy, k), sorted[k], "count \(count), k \(k)")
                XCTAssertEqual(copy.sorted(), sorted, "a permutation of the input")
            }
        }
    }
}
