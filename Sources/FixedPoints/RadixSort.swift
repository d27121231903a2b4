/// Sorting the crossing positions along a line, the inner step of the arrangement walk (millions of lines, each
/// with up to H crossings); a comparison sort was most of the walk's time.
///
/// A least-significant-digit radix sort orders the crossings by an order-preserving 32-bit image of their Float32
/// rounding (two or four byte passes, skipping bytes that all keys share), and an insertion pass then orders the
/// few neighbours that the shortened key made equal by their exact Double positions: linear time overall.
enum RadixSort {
    /// An order-preserving map of a Double (through its Float32 rounding, which is monotone) to UInt32.
    @inline(__always)
    static func key(_ value: Double) -> UInt32 {
        let bits = Float(value).bitPattern
        return bits >> 31 == 1 ? ~bits : bits | (1 << 31)
    }

    /// Sorts `items[0..<count]` (hyperplane indices) by `position[item]` ascending. `keys` holds each item's
    /// `key(position)` on entry; `spareKeys`, `spareItems` and `counts` (256) are scratch.
    static func sort(items: UnsafeMutablePointer<Int32>, keys: UnsafeMutablePointer<UInt32>, count: Int,
                     position: UnsafePointer<Double>, spareItems: UnsafeMutablePointer<Int32>,
                     spareKeys: UnsafeMutablePointer<UInt32>, counts: UnsafeMutablePointer<Int>) {
        guard count > 1 else { return }
        if count > 64 {
            var sourceKeys = keys, sourceItems = items
            var targetKeys = spareKeys, targetItems = spareItems
            // Short lists sort on the top 16 bits (sign, exponent, 7 mantissa bits) and leave the few ties to the
            // insertion pass; long ones need all 32 bits or the ties grow.
            let firstPass = count > 2048 ? 0 : 2
            for pass in firstPass..<4 {
                let shift = UInt32(pass * 8)
                for i in 0..<256 { counts[i] = 0 }
                for i in 0..<count { counts[Int((sourceKeys[i] >> shift) & 0xff)] += 1 }
                if counts[Int((sourceKeys[0] >> shift) & 0xff)] == count { continue }
                var total = 0
                for i in 0..<256 {
                    let c = counts[i]
                    counts[i] = total
                    total += c
                }
                for i in 0..<count {
                    let bucket = Int((sourceKeys[i] >> shift) & 0xff)
                    let destination = counts[bucket]
                    counts[bucket] = destination + 1
                    targetKeys[destination] = sourceKeys[i]
                    targetItems[destination] = sourceItems[i]
                }
                swap(&sourceKeys, &targetKeys)
                swap(&sourceItems, &targetItems)
            }
            if sourceItems != items { items.update(from: sourceItems, count: count) }
        }
        // Exact order: nearly sorted after the radix passes (or small), so insertion sort is linear.
        for i in 1..<count {
            let item = items[i]
            let value = position[Int(item)]
            var j = i - 1
            while j >= 0 && position[Int(items[j])] > value {
                items[j + 1] = items[j]
                j -= 1
            }
            items[j + 1] = item
        }
    }
}
