import SparseCoding

/// Settings of `SpikeSorter.sort`. Amplitudes and thresholds are in noise units: the sorter divides every channel
/// by its noise σ (median absolute deviation / 0.6745) before anything else.
public struct SpikeSortingOptions: Sendable {
    public var samplingRate: Double
    /// Samples per waveform (filter).
    public var filterLength: Int
    /// A coded event is a spike when its waveform's largest sample (amplitude × the filter's peak) reaches this
    /// many noise σ — the scale of the thresholds threshold-crossing detectors use.
    public var threshold: Double
    /// The L1 penalty of the waveforms' refinement by dictionary learning, in noise σ (as `cdl-train`'s
    /// default); sorting itself codes with the L0 penalty that `threshold` sets.
    public var lambda: Double
    /// The number of units to learn; nil: as many as the events' clusters (see `UnitDiscovery`).
    public var units: Int?
    /// The most units clustering may keep.
    public var maximumUnits: Int
    /// A unit needs this many spikes per second of training data to be kept.
    public var minimumRate: Double
    /// Samples of the recording the units are found on (from its start); nil: the first 60 s.
    public var trainingSamples: Int?
    /// Samples of the training stretch on which dictionary learning refines the clusters' mean spikes (0: none).
    public var refiningSamples: Int
    /// Dictionary-learning iterations of that refinement.
    public var learningIterations: Int
    /// Samples per coding window, without the overlap (a filter length on each side).
    public var windowLength: Int
    public var seed: UInt64
    public var threads: Int

    public init(samplingRate: Double, filterLength: Int, threshold: Double = 4, lambda: Double = 3.5,
                units: Int? = nil, maximumUnits: Int = 16, minimumRate: Double = 0.1, trainingSamples: Int? = nil,
                refiningSamples: Int = 0, learningIterations: Int = 30, windowLength: Int = 1 << 15, seed: UInt64 = 0, threads: Int = 2) {
        self.samplingRate = samplingRate
        self.filterLength = filterLength
        self.threshold = threshold
        self.lambda = lambda
        self.units = units
        self.maximumUnits = maximumUnits
        self.minimumRate = minimumRate
        self.trainingSamples = trainingSamples
        self.refiningSamples = refiningSamples
        self.learningIterations = learningIterations
        self.windowLength = windowLength
        self.seed = seed
        self.threads = max(1, threads)
    }

    func validate() throws(SpikeSortingError) {
        guard samplingRate > 0 && samplingRate.isFinite else {
            throw .invalidOption(flag: "--sampling-rate", message: "the sampling rate must be positive, got \(samplingRate)")
        }
        guard filterLength >= 2 else {
            throw .invalidOption(flag: "--filter-length", message: "--filter-length must be at least 2, got \(filterLength)")
        }
        guard threshold > 0 && threshold.isFinite else {
            throw .invalidOption(flag: "--threshold", message: "--threshold must be positive, got \(threshold)")
        }
        guard lambda >= 0 && lambda.isFinite else {
            throw .invalidOption(flag: "--lambda", message: "--lambda must be ≥ 0, got \(lambda)")
        }
        if let units, units < 1 {
            throw .invalidOption(flag: "--filters", message: "--filters must be at least 1, got \(units)")
        }
        guard maximumUnits >= 1 else {
            throw .invalidOption(flag: "--max-units", message: "--max-units must be at least 1, got \(maximumUnits)")
        }
        guard refiningSamples >= 0 else {
            throw .invalidOption(flag: "--refine", message: "--refine must be ≥ 0 seconds, got \(Double(refiningSamples) / samplingRate)")
        }
        guard learningIterations >= 1 else {
            throw .invalidOption(flag: "--max-iter", message: "--max-iter must be at least 1, got \(learningIterations)")
        }
        guard windowLength >= filterLength else {
            throw .invalidOption(flag: "--window", message: "--window must be at least the filter length \(filterLength), got \(windowLength)")
        }
    }
}

/// Sorted spikes, ascending in time.
public struct SortedSpikes: Sendable, Equatable {
    /// Sample of each spike's trough (the filter's largest-magnitude sample).
    public var times: [Int64] = []
    /// Unit (filter) of each spike, 0-based.
    public var labels: [Int32] = []
    /// The waveform's scale: the code, the least-squares scale of the unit-norm filter in noise σ.
    public var amplitudes: [Double] = []

    public init() {}

    public var count: Int { times.count }
}

/// Per-unit numbers a user checks first.
public struct UnitQuality: Sendable, Equatable {
    public var unit: Int
    public var spikes: Int
    /// Spikes per second of recording.
    public var rate: Double
    /// Fraction of inter-spike intervals shorter than 1.5 ms (a refractory period): contamination.
    public var refractoryViolations: Double
    /// The template's largest |sample| over channels in noise σ (the median spike's peak).
    public var peakSNR: Double
}

public struct SpikeSortingResult: Sendable {
    public var spikes: SortedSpikes
    /// The unit-norm waveforms in noise units (filters × channels × length), one per unit.
    public var dictionary: ConvolutionalDictionary
    /// Per unit, its filter scaled by the median amplitude and multiplied back by the channels' noise σ: the
    /// typical spike in the input's units (units × channels × length).
    public var templates: [Double]
    /// Index of each unit's trough within its template.
    public var troughs: [Int]
    /// The noise σ of every channel, in the input's units.
    public var noiseLevels: [Double]
    public var quality: [UnitQuality]
    /// How the units were found: one line per clustering step and check (empty when the dictionary was given).
    public var discovery: [String]
}
