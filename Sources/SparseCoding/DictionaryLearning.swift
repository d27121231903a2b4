import Dispatch
import Foundation
import LinearAlgebra
import NFXCore

/// Convolutional dictionary learning: min over filters h (‖h_c‖ ≤ 1) and sparse codes x of
/// ½‖y − Σ_c h_c ∗ x_c‖² + λ‖x‖₁ for a recording y (channels × samples).
public enum DictionaryLearning {
    /// `progress` is called from the calling thread after each iteration (altmin) or minibatch (crsae).
    public static func learn(recording y: [Double], channels: Int, samples: Int, options: DictionaryLearningOptions,
                             progress: ((DictionaryLearningProgress) -> Void)? = nil) throws -> DictionaryLearningResult {
        try validate(options, samples: samples)
        precondition(y.count == channels * samples, "learn: \(y.count) values for \(channels) × \(samples)")
        let sigma = options.knownNoiseLevel ?? noiseLevel(y)
        var dictionary = DictionaryStart.filters(y, channels: channels, samples: samples, options: options,
                                                 noiseLevel: sigma)
        var lambda = options.lambda ?? 3.5 * sigma
        if let fraction = options.lambdaFraction {
            lambda = fraction * SparseCoder.lambdaMax(dictionary, recording: y, samples: samples,
                                                      nonnegative: options.nonnegative)
        }
        let windows = Windows(samples: samples, length: options.length,
                              windowLength: options.windowLength ?? max(4096, 32 * options.length))
        switch options.method {
        case .altmin:
            return AlternatingMinimization.learn(y, channels: channels, samples: samples, start: dictionary,
                                                 windows: windows, lambda: lambda, options: options, noiseLevel: sigma,
                                                 progress: progress)
        case .crsae:
            dictionary.projectOntoUnitBall(exactly: true)
            return CRsAETraining.learn(y, channels: channels, samples: samples, start: dictionary, windows: windows,
                                       lambda: lambda, options: options, noiseLevel: sigma, progress: progress)
        }
    }

    static func validate(_ options: DictionaryLearningOptions, samples: Int) throws {
        guard options.filters >= 1 else {
            throw DictionaryLearningError.invalidOption(flag: "--filters", message: "--filters must be at least 1, got \(options.filters)")
        }
        guard options.length >= 2 else {
            throw DictionaryLearningError.invalidOption(flag: "--filter-length", message: "--filter-length must be at least 2, got \(options.length)")
        }
        guard samples >= options.length else {
            throw DictionaryLearningError.recordingTooShort(samples: samples, length: options.length)
        }
        guard options.maxIterations >= 1 else {
            throw DictionaryLearningError.invalidOption(flag: "--max-iter", message: "--max-iter must be at least 1, got \(options.maxIterations)")
        }
        if let lambda = options.lambda, !(lambda >= 0 && lambda.isFinite) {
            throw DictionaryLearningError.invalidOption(flag: "--lambda", message: "--lambda must be ≥ 0, got \(lambda)")
        }
        if let fraction = options.lambdaFraction, !(fraction > 0 && fraction.isFinite) {
            throw DictionaryLearningError.invalidOption(flag: "--lambda-fraction", message: "--lambda-fraction must be positive, got \(fraction)")
        }
        if let window = options.windowLength, window < options.length {
            throw DictionaryLearningError.invalidOption(flag: "--window", message: "--window must be at least the filter length \(options.length), got \(window)")
        }
    }

    /// Robust noise σ: the median absolute deviation from the median / 0.6745, which spikes barely move.
    public static func noiseLevel(_ y: [Double]) -> Double {
        guard !y.isEmpty else { return 0 }
        var values = y
        let median = selectNth(&values, values.count / 2)
        var deviations = y.map { abs($0 - median) }
        return selectNth(&deviations, deviations.count / 2) / 0.6745
    }

    /// Whether the newest entry of `objective` (one per iteration or epoch) ends learning: it lowered the objective
    /// by at most `tolerance` of the decrease since the first (never with tolerance 0). Relative to the objective
    /// itself it would not do: the objective is mostly the noise's energy, which no filter can explain, and it
    /// changes by a tiny fraction while the filters are still moving (a long recording stopped altmin early; seed 6
    /// of the benchmark's recipe stopped CRsAE after 3 epochs at a match of 0.85, on its way to 0.9999).
    static func hasConverged(_ objective: [Double], tolerance: Double) -> Bool {
        guard tolerance > 0, objective.count >= 2, let first = objective.first, let last = objective.last else {
            return false
        }
        return objective[objective.count - 2] - last <= tolerance * max(first - last, .leastNormalMagnitude)
    }

    /// Unit-norm filters, sorted when `sorted` by usage: the Σ |code| of each filter over every window's codes.
    static func finalized(_ dictionary: ConvolutionalDictionary, codes: [SparseCodes],
                          sorted: Bool = true) -> ConvolutionalDictionary {
        var usage = [Double](repeating: 0, count: dictionary.filters)
        for window in codes {
            for entry in window.values.indices { usage[Int(window.filters[entry])] += abs(window.values[entry]) }
        }
        var normalized = dictionary
        normalized.projectOntoUnitBall(exactly: true)
        guard sorted else { return normalized }
        let order = (0..<dictionary.filters).sorted { usage[$0] > usage[$1] || (usage[$0] == usage[$1] && $0 < $1) }
        let size = dictionary.channels * dictionary.length
        let weights = order.flatMap { normalized.weights[($0 * size)..<(($0 + 1) * size)] }
        return ConvolutionalDictionary(filters: dictionary.filters, channels: dictionary.channels,
                                       length: dictionary.length, weights: weights)
    }
}

/// Consecutive, non-overlapping windows of a recording. A spike that straddles two windows is coded in neither
/// (each window's codes must place whole filters inside it); with windows of ≥ 32 filter lengths that loses
/// about 3 % of the spikes, which learning tolerates.
struct Windows {
    let ranges: [Range<Int>]

    init(samples: Int, length: Int, windowLength: Int) {
        let size = max(windowLength, length)
        var ranges: [Range<Int>] = []
        var start = 0
        while start < samples {
            var end = min(samples, start + size)
            // A last window shorter than a filter joins the previous one.
            if samples - end < length { end = samples }
            ranges.append(start..<end)
            start = end
        }
        self.ranges = ranges
    }

    /// Window `index` of y (channels × samples), channels × its length.
    func slice(_ y: [Double], channels: Int, samples: Int, _ index: Int) -> [Double] {
        let range = ranges[index]
        var out: [Double] = []
        out.reserveCapacity(channels * range.count)
        for k in 0..<channels { out += y[(k * samples + range.lowerBound)..<(k * samples + range.upperBound)] }
        return out
    }
}

/// The non-zero entries of one window's codes: kept instead of dense codes, so memory grows with the spikes.
struct SparseCodes: Sendable {
    var filters: [Int32] = []
    var positions: [Int32] = []
    var values: [Double] = []

    init() {}

    init(dense: [Double], filters: Int, positions M: Int) {
        for c in 0..<filters {
            for s in 0..<M where dense[c * M + s] != 0 {
                self.filters.append(Int32(c))
                self.positions.append(Int32(s))
                values.append(dense[c * M + s])
            }
        }
    }

    func dense(filters: Int, positions M: Int) -> [Double] {
        var x = [Double](repeating: 0, count: filters * M)
        for index in values.indices { x[Int(self.filters[index]) * M + Int(positions[index])] = values[index] }
        return x
    }
}

