import CKernels
import NFXCore
import XCTest

final class CrossingSortTests: XCTestCase {
    /// Positions of every sign and scale, with exact ties and near-ties, in lists short and long enough to take
    /// each path (insertion only; two 8-bit digits; three; two 11-bit digits), against the standard library's sort.
    func testSortsCrossingPositionsExactly() {
        var generator = SeededGenerator(seed: 9)
        for count in [1, 2, 40, 65, 200, 257, 500, 2049, 5000] {
            var values = (0..<count).map { _ in generator.normal() / generator.normal() }
            if count > 4 {
                values[1] = values[0]
                values[3] = values[2].nextUp
                values[4] = -0.0
            }
            // A dense cluster, where the keys' leading bits tie.
            for i in stride(from: 5, to: count, by: 3) { values[i] = 1 + 1e-9 * generator.uniform() }
            var items = (0..<count).map { Int32($0) }
            var keys = values.map { nfx_crossing_key($0) }
            var spareItems = [Int32](repeating: 0, count: count), spareKeys = [UInt32](repeating: 0, count: count)
            var sortedPositions = [Double](repeating: .nan, count: count)
            nfx_sort_crossings(&items, &keys, count, values, &spareItems, &spareKeys, &sortedPositions)
            let sorted = items.map { values[Int($0)] }
            XCTAssertEqual(sorted, values.sorted(), "count \(count)")
            XCTAssertEqual(sortedPositions, values.sorted(), "count \(count)")
            XCTAssertEqual(Set(items).count, count, "a permutation, count \(count)")
        }
    }

    func testKeysPreserveOrder() {
        let values: [Double] = [-.infinity, -1e300, -2, -1, -1e-300, -0.0, 0, 1e-300, 1, 1.5, 2, 1e300, .infinity]
        let keys = values.map { nfx_crossing_key($0) }
        for (a, b) in zip(keys, keys.dropFirst()) { XCTAssertLessThanOrEqual(a, b) }
        XCTAssertLessThan(nfx_crossing_key(-1), nfx_crossing_key(1))
    }
}
