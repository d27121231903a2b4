/// How filters are learned.
public enum DictionaryLearningMethod: String, Sendable, CaseIterable {
    /// CRsAE (Tolooshams & Ba): an unrolled FISTA encoder with the dictionary tied in, trained by Adam on the
    /// gradient through the encoder. The default.
    case crsae
    /// Alternating minimisation: sparse-code every window, then the constrained least-squares filter update
    /// (the classic scheme of SPORCO and alphacsc).
    case altmin
}

/// Where the filters start.
public enum DictionaryInitialization: Sendable, Equatable {
    /// Threshold crossings → snippets aligned on their extremum → k-means: starts near real waveforms.
    case spikeTriggered
    /// Random windows of the recording.
    case randomWindows
    case given(ConvolutionalDictionary)
}

public struct DictionaryLearningOptions: Sendable {
    public var filters: Int
    public var length: Int
    public var method: DictionaryLearningMethod
    /// The L1 penalty; nil: 3.5 × the noise σ (median absolute deviation of the recording / 0.6745).
    public var lambda: Double?
    /// Alternatively λ as a fraction of λ_max = max Hᵀy for the starting filters (1 gives all-zero codes).
    public var lambdaFraction: Double?
    public var nonnegative: Bool
    public var initialization: DictionaryInitialization
    /// Outer iterations (altmin) or epochs (crsae).
    public var maxIterations: Int
    /// Stop when an iteration (crsae: an epoch) lowers the objective by less than this fraction of its decrease
    /// since the first; 0 runs exactly `maxIterations`.
    public var tolerance: Double
    /// Samples per window: recordings are coded window by window, never as one full-length code matrix.
    public var windowLength: Int?
    /// Spike-triggered start: threshold in noise σ.
    public var detectionThreshold: Double
    /// CRsAE: unrolled FISTA steps of the encoder.
    public var unrolledSteps: Int
    public var seed: UInt64
    public var threads: Int
    /// The recording's noise σ when the caller knows it (e.g. data already divided by it); nil: estimated by
    /// `DictionaryLearning.noiseLevel`, which sorts the whole recording.
    public var knownNoiseLevel: Double?
    /// Whether the learned filters are sorted by usage (most used first); false keeps the start's order, for
    /// callers that know what each starting filter stands for (the spike sorter's clusters).
    public var sortsByUsage = true

    public init(filters: Int, length: Int, method: DictionaryLearningMethod = .crsae, lambda: Double? = nil,
                nonnegative: Bool = true, initialization: DictionaryInitialization = .spikeTriggered,
                maxIterations: Int = 30, tolerance: Double = 1e-3, windowLength: Int? = nil,
                detectionThreshold: Double = 4, unrolledSteps: Int = 60, seed: UInt64 = 0, threads: Int = 2) {
        self.filters = filters
        self.length = length
        self.method = method
        self.lambda = lambda
        self.lambdaFraction = nil
        self.nonnegative = nonnegative
        self.initialization = initialization
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.windowLength = windowLength
        self.detectionThreshold = detectionThreshold
        self.unrolledSteps = max(1, unrolledSteps)
        self.seed = seed
        self.threads = max(1, threads)
    }
}

/// Where learning is, for a progress line: the iteration (altmin) or epoch (crsae) under way, counted from 1, the
/// fraction of it done, and the objective of the last finished one.
public struct DictionaryLearningProgress: Sendable {
    public var iteration: Int
    public var fractionDone: Double
    public var objective: Double?
}

public struct DictionaryLearningResult: Sendable {
    /// Unit-norm filters, sorted by how much they are used (Σ of their codes), most first.
    public var dictionary: ConvolutionalDictionary
    /// ½‖y − Hx‖² + λ‖x‖₁ over the whole recording after each iteration's coding.
    public var objective: [Double]
    public var iterations: Int
    public var converged: Bool
    public var lambda: Double
    /// The noise σ estimated from the recording.
    public var noiseLevel: Double
}

public enum DictionaryLearningError: Error, CustomStringConvertible, Equatable {
    case recordingTooShort(samples: Int, length: Int)
    case invalidOption(flag: String, message: String)

    public var description: String {
        switch self {
        case let .recordingTooShort(samples, length):
            return "the recording has \(samples) samples, fewer than the filter length \(length)"
        case let .invalidOption(_, message):
            return message
        }
    }
}
