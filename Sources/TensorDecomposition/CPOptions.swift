import LinearAlgebra

/// Which CP model is fitted.
public enum CPMethod: String, Sendable, CaseIterable {
    /// Non-negative CP by HALS: each factor column by exact coordinate descent (Cichocki & Phan 2009), the
    /// method of tensortools' `ncp_hals` and of Williams et al. (2018).
    case ncp
    /// Unconstrained CP by alternating least squares (Carroll & Chang 1970; Harshman 1970), as TensorLy's `parafac`.
    case cp
}

/// How the factors start.
public enum CPInitialization: Sendable, Equatable {
    /// Uniform [0, 1) entries from the seed, scaled so that the model's norm matches the data's.
    case random
    /// The leading left singular vectors of each unfolding (absolute values for `ncp`); columns beyond a mode's
    /// size are random.
    case svd
    /// Factors supplied by the caller, one dim × rank matrix per mode.
    case given([Matrix])

    public var name: String {
        switch self {
        case .random: "random"
        case .svd: "svd"
        case .given: "given"
        }
    }
}

public struct CPOptions: Sendable {
    public var rank: Int
    public var method: CPMethod
    public var initialization: CPInitialization
    /// Iteration limit; with `tolerance == 0` exactly this many iterations run.
    public var maxIterations: Int
    /// Stop when the objective's relative decrease over one iteration falls below this.
    public var tolerance: Double
    public var seed: UInt64
    /// Threads for the work between GEMMs (HALS sweeps, contractions, the EM fill). Results do not depend on it.
    public var threads: Int
    /// Non-negative CP only: extrapolate between iterations (HER, see `CPAcceleration`), which on large tensors
    /// reaches a given error in about half the iterations; the objective may then rise at an iteration where the
    /// extrapolation is discarded. Unconstrained CP never extrapolates: without a line search it was slower.
    public var accelerate: Bool = true

    public init(rank: Int, method: CPMethod = .ncp, initialization: CPInitialization = .random,
                maxIterations: Int = 500, tolerance: Double = 1e-6, seed: UInt64 = 0, threads: Int = 2) {
        self.rank = rank
        self.method = method
        self.initialization = initialization
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.threads = max(1, threads)
    }
}

/// A fitted CP model X ≈ Σ_r w_r · a_r ∘ b_r ∘ c_r, in Float64 whatever precision it was computed in.
public struct CPResult: Sendable {
    /// One dim × rank matrix per mode, unit-norm columns; components sorted by weight, descending. For `cp`, each
    /// column's sign is chosen so that its largest-magnitude entry is positive in every mode but the first.
    public var factors: [Matrix]
    /// The components' weights (≥ 0).
    public var weights: [Double]
    /// ½‖M ⊙ (X − model)‖² after each iteration.
    public var objective: [Double]
    /// ‖M ⊙ (X − model)‖ / ‖M ⊙ X‖ after each iteration.
    public var relativeErrors: [Double]
    public var iterations: Int
    public var converged: Bool

    public var relativeError: Double { relativeErrors.last ?? .nan }
    public var rank: Int { weights.count }

    public init(factors: [Matrix], weights: [Double], objective: [Double], relativeErrors: [Double], iterations: Int,
                converged: Bool) {
        self.factors = factors
        self.weights = weights
        self.objective = objective
        self.relativeErrors = relativeErrors
        self.iterations = iterations
        self.converged = converged
    }
}

/// One iteration's state, for progress reports.
public struct CPProgress: Sendable {
    public var iteration: Int
    public var relativeError: Double
}

/// Why a decomposition could not be computed, phrased so that a user can act on it.
public enum TensorDecompositionError: Error, CustomStringConvertible, Equatable {
    case negativeEntries(count: Int, minimum: Double)
    case invalidRank(Int)
    case invalidShape([Int])
    case tooFewObserved
    case invalidInitialFactors(String)
    case invalidOption(flag: String, message: String)
    case numerical(String)

    public var description: String {
        switch self {
        case let .negativeEntries(count, minimum):
            return "non-negative CP needs data ≥ 0, but \(count) entries are negative (minimum \(minimum))"
        case let .invalidRank(rank):
            return "the rank must be at least 1, got \(rank)"
        case let .invalidShape(shape):
            return "CP needs a 3-way tensor (units × time × trials) with every dimension ≥ 1, got shape \(shape)"
        case .tooFewObserved:
            return "every entry is missing (NaN)"
        case let .invalidInitialFactors(message):
            return "initial factors: \(message)"
        case let .invalidOption(_, message):
            return message
        case let .numerical(message):
            return message
        }
    }
}
