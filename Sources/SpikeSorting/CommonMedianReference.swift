import Dispatch
import Foundation

/// Common median reference (CMR): at every sample, subtract the median across channels from every channel, which
/// removes signals shared by the whole probe (reference drift, line noise, movement artefacts) while a spike on a
/// few channels barely moves the median. This is SpikeInterface's
/// `common_reference(recording, reference="global", operator="median")`; with an even channel count the median is
/// the mean of the two middle values, as NumPy's `median`.
///
/// One channel is returned **unchanged**: its median is itself, so SpikeInterface's formula would zero the whole
/// recording, which no user asking for a reference wants.
public enum CommonMedianReference {
    /// Samples per block: a block of every channel (up to 64 × 256 doubles, 128 kB) stays in L2 cache.
    static let blockLength = 256

    /// Re-references a channels × samples row-major recording in place. Blocks of samples run in parallel on up to
    /// `threads` threads; each sample's median is computed the same way whatever the thread count.
    public static func apply(_ recording: inout [Double], channels: Int, samples: Int,
                             threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(channels >= 0 && samples >= 0 && recording.count == channels * samples,
                     "CommonMedianReference.apply: \(recording.count) values for \(channels) × \(samples)")
        guard channels > 1, samples > 0 else { return }
        let blocks = (samples + blockLength - 1) / blockLength
        let workers = max(1, min(threads, blocks))
        recording.withUnsafeMutableBufferPointer { buffer in
            let rows = SharedRows(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                // Per worker: the block transposed to samples × channels (so each sample's values are contiguous
                // for the selection, which reorders them) and the block's medians.
                let transposed = UnsafeMutablePointer<Double>.allocate(capacity: channels * blockLength)
                let medians = UnsafeMutablePointer<Double>.allocate(capacity: blockLength)
                defer {
                    transposed.deallocate()
                    medians.deallocate()
                }
                for block in stride(from: worker, to: blocks, by: workers) {
                    let start = block * blockLength, width = min(blockLength, samples - start)
                    for channel in 0..<channels {
                        let row = rows.base + channel * samples + start
                        for t in 0..<width { transposed[t * channels + channel] = row[t] }
                    }
                    for t in 0..<width { medians[t] = median(transposed + t * channels, count: channels) }
                    for channel in 0..<channels {
                        let row = rows.base + channel * samples + start
                        for t in 0..<width { row[t] -= medians[t] }
                    }
                }
            }
        }
    }

    /// `apply` on a copy.
    public static func applied(_ recording: [Double], channels: Int, samples: Int,
                               threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [Double] {
        var copy = recording
        apply(&copy, channels: channels, samples: samples, threads: threads)
        return copy
    }

    /// The median of `count` values (the mean of the two middle ones for an even count), reordering them.
    /// Insertion sort for the few channels of tetrodes and small shanks; above that Hoare's selection
    /// (C. A. R. Hoare, "Algorithm 65: Find", CACM 4(7), 1961), linear on average.
    static func median(_ values: UnsafeMutablePointer<Double>, count: Int) -> Double {
        let middle = count / 2
        if count <= 16 {
            for i in 1..<count {
                let value = values[i]
                var j = i
                while j > 0 && values[j - 1] > value {
                    values[j] = values[j - 1]
                    j -= 1
                }
                values[j] = value
            }
            return count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
        }
        select(values, count: count, rank: middle)
        guard count % 2 == 0 else { return values[middle] }
        // After selection everything before `middle` is ≤ values[middle]; the lower middle value is their maximum.
        var lower = values[0]
        for i in 1..<middle where values[i] > lower { lower = values[i] }
        return (lower + values[middle]) / 2
    }

    /// Reorders `values` so that values[rank] is the value of that rank, with nothing larger before it and nothing
    /// smaller after it. The pivot is the median of the first, middle and last values, so sorted and reversed
    /// columns (a ramp across the probe) stay linear.
    private static func select(_ values: UnsafeMutablePointer<Double>, count: Int, rank: Int) {
        var low = 0, high = count - 1
        while high > low {
            let mid = low + (high - low) / 2
            if values[mid] < values[low] { swap(values, mid, low) }
            if values[high] < values[low] { swap(values, high, low) }
            if values[high] < values[mid] { swap(values, high, mid) }
            let pivot = values[mid]
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    swap(values, i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now [low, j] ≤ pivot ≤ [i, high], and anything between j and i equals the pivot.
            if rank <= j {
                high = j
            } else if rank >= i {
                low = i
            } else {
                return
            }
        }
    }

    @inline(__always)
    private static func swap(_ values: UnsafeMutablePointer<Double>, _ a: Int, _ b: Int) {
        let temporary = values[a]
        values[a] = values[b]
        values[b] = temporary
    }
}
