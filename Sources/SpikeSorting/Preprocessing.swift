import Foundation
import LinearAlgebra

/// The preprocessing chain of the spike sorter, in SpikeInterface's usual order: zero-phase Butterworth band-pass →
/// common median reference → ZCA spatial whitening, each optional; then the noise level of every channel of the
/// result (what detection thresholds are multiples of).
public struct Preprocessing: Sendable, Equatable {
    /// Lower edge of the band, in Hz.
    public var low: Double
    /// Upper edge of the band, in Hz; at or above Nyquist the filter is a high-pass at `low`
    /// (see `ButterworthBandpass`).
    public var high: Double
    /// Order of the band's upper edge (the whole band-pass when `lowEdgeOrder` equals it).
    public var filterOrder: Int
    /// Order of the band's lower edge (see `ButterworthBandpass.lowEdgeOrder`).
    public var lowEdgeOrder: Int
    /// Off for recordings that are already filtered.
    public var bandPass: Bool
    public var commonMedianReference: Bool
    public var whitening: Bool
    /// Threads for the per-channel and per-block loops (the whitening GEMM uses whatever threads OpenBLAS is set to).
    public var threads: Int

    /// The sorter's band: 150–6000 Hz (Tridesclous 2's; SpyKING CIRCUS 2 uses 150–7000 Hz), the upper edge of
    /// order 5 as SpikeInterface's `bandpass_filter`, the lower edge of order 1 (zero-phase: 12 dB per octave,
    /// −47 dB at 10 Hz). The low-frequency part of a spike is much of what tells two units apart, and a steep high-
    /// pass at 300 Hz reshapes it: on the seed-like 10 kHz benchmark recordings SpikeInterface's 300–6000 Hz order-5
    /// filter made two of seed 2's units one, and 150 Hz at order 5 left one at 0.949 accuracy (order 1: 0.967).
    /// A gentle upper edge instead lets through noise above the band (4 channels at 30 kHz: 0.946 worst unit with
    /// order 1 at both edges, 0.966 with this filter).
    public static let defaultLow = 150.0
    public static let defaultHigh = 6000.0
    public static let defaultFilterOrder = 5
    public static let defaultLowEdgeOrder = 1

    public init(low: Double = Preprocessing.defaultLow, high: Double = Preprocessing.defaultHigh,
                filterOrder: Int = Preprocessing.defaultFilterOrder,
                lowEdgeOrder: Int = Preprocessing.defaultLowEdgeOrder, bandPass: Bool = true,
                commonMedianReference: Bool = true, whitening: Bool = true,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.low = low
        self.high = high
        self.filterOrder = filterOrder
        self.lowEdgeOrder = lowEdgeOrder
        self.bandPass = bandPass
        self.commonMedianReference = commonMedianReference
        self.whitening = whitening
        self.threads = threads
    }

    /// Runs the chain on a channels × samples row-major recording sampled at `samplingRate` Hz. The recording is
    /// taken by value and overwritten step by step, so passing its last use avoids a copy.
    public func run(_ recording: consuming [Double], channels: Int, samples: Int,
                    samplingRate: Double) throws -> PreprocessedRecording {
        guard channels > 0, samples > 0 else {
            throw SpikeSortingError.invalidRecording(
                "the recording must have at least one channel and one sample, got \(channels) × \(samples)")
        }
        guard recording.count == channels * samples else {
            throw SpikeSortingError.invalidRecording(
                "the recording has \(recording.count) values, not \(channels) channels × \(samples) samples")
        }
        guard threads >= 1 else {
            throw SpikeSortingError.invalidOption(flag: "--threads", message: "--threads must be at least 1, got \(threads)")
        }
        let filter = try bandPassFilter(samplingRate: samplingRate)
        var data = recording
        filter?.filter(&data, channels: channels, samples: samples, threads: threads)
        if commonMedianReference {
            CommonMedianReference.apply(&data, channels: channels, samples: samples, threads: threads)
        }
        var whitener: SpatialWhitening? = nil
        if whitening {
            let fitted = try SpatialWhitening(fitting: data, channels: channels, samples: samples)
            try fitted.apply(to: &data, channels: channels, samples: samples)
            whitener = fitted
        }
        let noise = NoiseLevel.perChannel(data, channels: channels, samples: samples, threads: threads)
        return PreprocessedRecording(recording: data, channels: channels, samples: samples, noiseLevels: noise,
                                     filter: filter, whitening: whitener)
    }
}

extension Preprocessing {
    /// The band-pass these settings describe, nil with `bandPass` off.
    func bandPassFilter(samplingRate: Double) throws -> ButterworthBandpass? {
        bandPass ? try ButterworthBandpass(order: filterOrder, lowEdgeOrder: lowEdgeOrder, low: low, high: high,
                                           samplingRate: samplingRate) : nil
    }

    /// Samples of recording either side of a stretch that the chain needs to give the stretch the values one
    /// pass over the whole recording would: 15 periods of the lower edge for the band-pass to settle (50 ms at
    /// 300 Hz, by when even an order-5 Butterworth's response has decayed by more than 10⁶; 100 ms at the default
    /// 150 Hz), none without it.
    public func settlingMargin(samplingRate: Double) -> Int {
        bandPass ? Int((15 / low * samplingRate).rounded(.up)) : 0
    }

    /// The chain on a later stretch of a streamed recording, with the whitening `Preprocessing.run` fitted on
    /// the first (the same transform for every stretch, as one pass over the whole recording would apply).
    public func transform(_ data: inout [Double], channels: Int, samples: Int, samplingRate: Double,
                          whitening: SpatialWhitening?) throws {
        precondition(data.count == channels * samples, "Preprocessing.transform: \(data.count) values for \(channels) × \(samples)")
        try bandPassFilter(samplingRate: samplingRate)?.filter(&data, channels: channels, samples: samples,
                                                                 threads: threads)
        if commonMedianReference {
            CommonMedianReference.apply(&data, channels: channels, samples: samples, threads: threads)
        }
        try whitening?.apply(to: &data, channels: channels, samples: samples)
    }
}

/// What `Preprocessing.run` returns.
public struct PreprocessedRecording: Sendable {
    /// channels × samples, row-major.
    public var recording: [Double]
    public var channels: Int
    public var samples: Int
    /// MAD-based σ of each channel of `recording` (after every step of the chain).
    public var noiseLevels: [Double]
    /// The filter as designed (its `high` is nil when it became a high-pass); nil without the band-pass.
    public var filter: ButterworthBandpass?
    /// The whitening applied, when it was: its `matrix` W and `inverse` W⁻¹ (to un-whiten templates).
    public var whitening: SpatialWhitening?
}
