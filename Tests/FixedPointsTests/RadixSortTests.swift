import XCTest
import NFXCore
@testable import FixedPoints

final class RadixSortTests: XCTestCase {
    /// Positions of every sign and scale, with exact ties and near-ties, in lists short and long enough to take
    /// each path (insertion only, 16-bit keys, 32-bit keys).
    func testSortsCrossingPositionsExactly() {
        var generator = SeededGenerator(seed: 9)
        for count in [1, 2, 40, 65, 500, 2049, 5000] {
            var values = (0..<count).map { _ in generator.normal() / generator.normal() }
            if count > 4 {
                values[1] = values[0]
                values[3] = values[2].nextUp
                values[4] = -0.0
            }
            let items = UnsafeMutablePointer<Int32>.allocate(capacity: count)
            let spareItems = UnsafeMutablePointer<Int32>.allocate(capacity: count)
            let keys = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
            let spareKeys = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 256)
            defer { [items, spareItems].forEach { $0.deallocate() }; [keys, spareKeys].forEach { $0.deallocate() }; counts.deallocate() }
            for i in 0..<count {
                items[i] = Int32(i)
                keys[i] = RadixSort.key(values[i])
            }
            values.withUnsafeBufferPointer { position in
                RadixSort.sort(items: items, keys: keys, count: count, position: position.baseAddress!,
                               spareItems: spareItems, spareKeys: spareKeys, counts: counts)
            }
            let sorted = (0..<count).map { values[Int(items[$0])] }
            XCTAssertEqual(sorted, values.sorted(), "count \(count)")
            XCTAssertEqual(Set((0..<count).map { items[$0] }).count, count, "a permutation, count \(count)")
        }
    }
}
