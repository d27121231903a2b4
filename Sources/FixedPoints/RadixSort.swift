/// Least-significant-digit radix sort of 64-bit keys carrying an Int32 payload: the line walk sorts the
/// crossing positions of every hyperplane along millions of lines, and a comparison sort was most of its time.
/// Passes whose byte is the same for every key (the exponent bytes of nearby doubles) are skipped.
enum RadixSort {
    /// An order-preserving map of a Double to UInt64 (negative numbers flipped, positive ones offset).
    @inline(__always)
    static func key(_ value: Double) -> UInt64 {
        let bits = value.bitPattern
        return bits >> 63 == 1 ? ~bits : bits | (1 << 63)
    }

    @inline(__always)
    static func value(_ key: UInt64) -> Double {
        Double(bitPattern: key >> 63 == 1 ? key & ~(1 << 63) : ~key)
    }

    /// Sorts `keys[0..<count]` ascending, permuting `payload` alike; `spareKeys`/`sparePayload` are scratch of the
    /// same size. On return the sorted data is in `keys`/`payload`.
    static func sort(_ keys: inout UnsafeMutablePointer<UInt64>, _ payload: inout UnsafeMutablePointer<Int32>,
                     spareKeys: inout UnsafeMutablePointer<UInt64>, sparePayload: inout UnsafeMutablePointer<Int32>,
                     count: Int, counts: UnsafeMutablePointer<Int>) {
        guard count > 1 else { return }
        if count <= 48 {
            insertionSort(keys, payload, count)
            return
        }
        for pass in 0..<8 {
            let shift = UInt64(pass * 8)
            for i in 0..<256 { counts[i] = 0 }
            for i in 0..<count { counts[Int((keys[i] >> shift) & 0xff)] += 1 }
            if counts[Int((keys[0] >> shift) & 0xff)] == count { continue }
            var total = 0
            for i in 0..<256 {
                let c = counts[i]
                counts[i] = total
                total += c
            }
            for i in 0..<count {
                let bucket = Int((keys[i] >> shift) & 0xff)
                let destination = counts[bucket]
                counts[bucket] = destination + 1
                spareKeys[destination] = keys[i]
                sparePayload[destination] = payload[i]
            }
            swap(&keys, &spareKeys)
            swap(&payload, &sparePayload)
        }
    }

    private static func insertionSort(_ keys: UnsafeMutablePointer<UInt64>, _ payload: UnsafeMutablePointer<Int32>,
                                      _ count: Int) {
        for i in 1..<count {
            let key = keys[i], item = payload[i]
            var j = i - 1
            while j >= 0 && keys[j] > key {
                keys[j + 1] = keys[j]
                payload[j + 1] = payload[j]
                j -= 1
            }
            keys[j + 1] = key
            payload[j + 1] = item
        }
    }
}
