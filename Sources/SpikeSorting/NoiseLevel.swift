import Dispatch
import Foundation
import NFXCore
import SparseCoding

/// Per-channel noise σ by the median absolute deviation, MAD / 0.6745 (the σ of a Gaussian whose MAD that is),
/// which spikes barely move; the same estimator as SpikeInterface's `get_noise_levels(..., method="mad")`.
public enum NoiseLevel {
    /// σ of each channel of a channels × samples row-major recording, in channel order.
    ///
    /// Measured on `SampleChunks.evenlySpaced` (20 chunks of 10,000 samples; the whole recording when it is
    /// shorter than that), where SpikeInterface draws the same amount at random: the estimate is then
    /// deterministic and costs the same whatever the recording's length. Each channel's value comes from
    /// SparseCoding's `DictionaryLearning.noiseLevel`, which takes the upper middle value as the median of an even
    /// count (NumPy averages the two middle ones; the difference is negligible at thousands of samples).
    /// Channels run in parallel on up to `threads` threads.
    public static func perChannel(_ recording: [Double], channels: Int, samples: Int,
                                  threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [Double] {
        precondition(channels >= 0 && samples >= 0 && recording.count == channels * samples,
                     "NoiseLevel.perChannel: \(recording.count) values for \(channels) × \(samples)")
        guard channels > 0 else { return [] }
        let chunks = SampleChunks.evenlySpaced(samples: samples)
        let slots = ConcurrentSlots<Double>(count: channels)
        let workers = max(1, min(threads, channels))
        recording.withUnsafeBufferPointer { buffer in
            let data = SharedReadOnlyRows(base: buffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for channel in stride(from: worker, to: channels, by: workers) {
                    var values: [Double] = []
                    values.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
                    if let base = data.base {
                        let row = base + channel * samples
                        for chunk in chunks {
                            values.append(contentsOf: UnsafeBufferPointer(start: row + chunk.lowerBound,
                                                                          count: chunk.count))
                        }
                    }
                    slots.set(channel, DictionaryLearning.noiseLevel(values))
                }
            }
        }
        return slots.values.map { $0 ?? 0 }
    }
}

/// Which stretches of a recording the statistics that need not see all of it (noise levels, the whitening
/// covariance) are measured on.
public enum SampleChunks {
    public static let defaultCount = 20
    public static let defaultLength = 10_000

    /// `count` chunks of `length` samples spread evenly from the first sample to the last (first chunk at the start,
    /// last at the end), or the whole recording as one chunk when it has no more than count × length samples.
    /// SpikeInterface's `get_random_data_chunks` takes the same amount (20 × 10,000) at random positions; even
    /// spacing gives the same coverage without a seed.
    public static func evenlySpaced(samples: Int, count: Int = defaultCount,
                                    length: Int = defaultLength) -> [Range<Int>] {
        guard samples > 0 else { return [] }
        guard count >= 1, length >= 1, samples > count * length else { return [0..<samples] }
        if count == 1 { return [0..<length] }
        let lastStart = samples - length
        return (0..<count).map { index in
            let start = index * lastStart / (count - 1)
            return start..<(start + length)
        }
    }
}

/// The base of a buffer that several threads read at once.
struct SharedReadOnlyRows: @unchecked Sendable {
    let base: UnsafePointer<Double>?
}
