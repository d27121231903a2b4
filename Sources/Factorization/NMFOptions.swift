import LinearAlgebra

/// The update rule of a non-negative factorization.
public enum NMFSolver: String, Sendable, CaseIterable {
    /// Hierarchical alternating least squares: exact coordinate descent on one row of H or column of W at a
    /// time (Cichocki & Phan 2009), with Gillis & Glineur's (2012) repeated inner sweeps while they still pay.
    case hals
    /// Lee & Seung's (2001) multiplicative updates, kept for comparison: monotone but much slower to converge.
    case mu
}

/// How the factors start.
public enum NMFInitialization: Sendable, Equatable {
    /// Non-negative double SVD (Boutsidis & Gallopoulos 2008): deterministic, zeros stay zero.
    case nndsvd
    /// NNDSVD with its zeros replaced by the data's mean, so that no entry is locked at zero from the start.
    case nndsvda
    /// |N(0, 1)| scaled to the data's mean, from the seed.
    case random
    /// Factors supplied by the caller: W units × rank and H rank × time, non-negative.
    case given(W: Matrix, H: Matrix)

    public var name: String {
        switch self {
        case .nndsvd: "nndsvd"
        case .nndsvda: "nndsvda"
        case .random: "random"
        case .given: "given"
        }
    }
}

/// Elastic-net penalties on the factors: the objective is
/// ½‖M ⊙ (X − W·H)‖² + l1W·ΣW + ½·l2W·‖W‖² + l1H·ΣH + ½·l2H·‖H‖², with M the mask of observed entries.
/// Unlike scikit-learn (≥ 1.2), the penalties are not rescaled by the data's size.
public struct NMFPenalties: Sendable, Equatable {
    public var l1W: Double
    public var l2W: Double
    public var l1H: Double
    public var l2H: Double

    public init(l1W: Double = 0, l2W: Double = 0, l1H: Double = 0, l2H: Double = 0) {
        self.l1W = l1W
        self.l2W = l2W
        self.l1H = l1H
        self.l2H = l2H
    }
}

public struct NMFOptions: Sendable {
    public var rank: Int
    public var solver: NMFSolver
    public var initialization: NMFInitialization
    public var penalties: NMFPenalties
    /// Iteration limit; with `tolerance == 0` exactly this many iterations run.
    public var maxIterations: Int
    /// Stop when the objective's relative decrease over one iteration falls below this.
    public var tolerance: Double
    public var seed: UInt64
    /// Threads for the work between GEMMs (HALS sweeps, the data pass, the EM fill); the GEMMs use OpenBLAS'
    /// own threads, set with `BLASThreads`. The two never run at once. Results do not depend on it.
    public var threads: Int

    public init(rank: Int, solver: NMFSolver = .hals, initialization: NMFInitialization = .nndsvda,
                penalties: NMFPenalties = NMFPenalties(), maxIterations: Int = 200, tolerance: Double = 1e-4,
                seed: UInt64 = 0, threads: Int = 2) {
        self.rank = rank
        self.solver = solver
        self.initialization = initialization
        self.penalties = penalties
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.threads = max(1, threads)
    }
}

/// One iteration's state, reported to a progress callback.
public struct FactorizationProgress: Sendable {
    public var iteration: Int
    public var objective: Double
    public var relativeError: Double
}

/// A fitted factorization X ≈ W·H, in Float64 whatever precision it was computed in.
public struct FactorizationResult: Sendable {
    /// units × rank; columns have unit norm and are sorted by contribution ‖W_k‖·‖H_k‖, largest first.
    public var W: Matrix
    /// rank × time.
    public var H: Matrix
    /// The objective after each iteration (NMF: the penalised ½‖M ⊙ (X − W·H)‖²; PCA with missing entries: the
    /// same without penalties).
    public var objective: [Double]
    /// ‖M ⊙ (X − W·H)‖ / ‖M ⊙ X‖ after each iteration.
    public var relativeErrors: [Double]
    public var iterations: Int
    /// Whether the tolerance stopped the fit before `maxIterations`.
    public var converged: Bool

    public var relativeError: Double { relativeErrors.last ?? .nan }
}
