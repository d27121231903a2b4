import LinearAlgebra
import NFXCore

/// How the leading singular vectors are computed.
public enum PCASolver: String, Sendable, CaseIterable {
    /// Exact when the smaller dimension is ≤ 1,000 or the rank is over a quarter of it; randomized otherwise.
    case auto
    /// LAPACK's divide-and-conquer SVD of the centred matrix (a full copy of it, O(m·n·min(m, n))).
    case exact
    /// Halko–Martinsson–Tropp randomized subspace iteration: a few passes over the data, no copy.
    case randomized
}

public struct PCAOptions: Sendable {
    public var rank: Int
    public var solver: PCASolver
    /// Rounds of subspace iteration for the randomized solver (scikit-learn's TruncatedSVD uses 5).
    public var powerIterations: Int
    /// Extra sketch columns for the randomized solver.
    public var oversampling: Int
    /// With missing entries: at most this many EM iterations, stopped at this relative objective change.
    public var maxIterations: Int
    public var tolerance: Double
    public var seed: UInt64
    /// Threads for the data pass and the EM fill (GEMMs use OpenBLAS' threads). Results do not depend on it.
    public var threads: Int

    public init(rank: Int, solver: PCASolver = .auto, powerIterations: Int = 5, oversampling: Int = 10,
                maxIterations: Int = 200, tolerance: Double = 1e-4, seed: UInt64 = 0, threads: Int = 2) {
        self.rank = rank
        self.solver = solver
        self.powerIterations = powerIterations
        self.oversampling = oversampling
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.threads = max(1, threads)
    }

    /// The solver `auto` resolves to for a rows × columns matrix.
    public func resolvedSolver(rows: Int, columns: Int) -> PCASolver {
        guard solver == .auto else { return solver }
        let smaller = min(rows, columns)
        return smaller <= 1000 || 4 * rank > smaller ? .exact : .randomized
    }
}

/// A PCA of a units × time matrix: X ≈ μ·1ᵀ + W·H.
public struct PCAResult: Sendable {
    /// W: units × rank principal axes (unit norm); H: rank × time scores (singular value × right vector).
    /// Relative errors are ‖M ⊙ (X − μ1ᵀ − W·H)‖ / ‖M ⊙ (X − μ1ᵀ)‖: the square root of the unexplained variance.
    public var factorization: FactorizationResult
    /// Each unit's mean over time, subtracted before the decomposition.
    public var mean: [Double]
    public var singularValues: [Double]
    /// s² / (time − 1): the variance along each axis.
    public var explainedVariance: [Double]
    /// s² / total variance of the centred data.
    public var explainedVarianceRatio: [Double]
    public var solver: PCASolver
}

/// Principal component analysis of units × time data: units are variables, time points are samples.
public enum PrincipalComponents {
    /// Fits the leading `options.rank` components of `data` (rows × columns, row-major), each row centred.
    ///
    /// NaN entries are missing: they are filled by EM (the current model's value, see `MissingEntries`) and the
    /// decomposition is repeated until the masked residual stops falling; on return they are NaN again.
    public static func fit<T: FactorizationScalar>(_ data: inout [T], rows: Int, columns: Int, options: PCAOptions,
                                                   progress: ((FactorizationProgress) -> Void)? = nil) throws
        -> PCAResult {
        try T.principalComponents(&data, rows: rows, columns: columns, options: options, progress: progress)
    }

    /// The body of `fit`, specialised inside this module for Float and Double (see `FactorizationScalar`).
    static func fitInPrecision<T: BLASScalar>(_ data: inout [T], rows m: Int, columns n: Int, options: PCAOptions,
                                              progress: ((FactorizationProgress) -> Void)?) throws -> PCAResult {
        let k = options.rank
        guard k >= 1, k <= min(m, n) else { throw FactorizationError.invalidRank(rank: k, rows: m, columns: n) }
        precondition(data.count == m * n, "PrincipalComponents.fit: \(data.count) values for \(m) × \(n)")
        guard options.powerIterations >= 0, options.oversampling >= 0 else {
            throw FactorizationError.invalidOption(flag: "--power-iterations",
                                                   message: "--power-iterations and the oversampling must be ≥ 0")
        }
        try NonnegativeMatrixFactorization.validate(NMFOptions(rank: k, maxIterations: options.maxIterations,
                                                               tolerance: options.tolerance))
        let solver = options.resolvedSolver(rows: m, columns: n)
        return try data.withUnsafeMutableBufferPointer { X in
            let summary = DataSummary(UnsafeBufferPointer(X), rows: m, columns: n, threads: options.threads)
            guard summary.observedCount > 0 else { throw FactorizationError.tooFewObserved(observed: 0, needed: 1) }
            let missing = summary.missing
            missing.fill(X, rowMeans: summary.rowMeans)
            defer { missing.restoreNaN(X) }
            var objective: [Double] = [], relativeErrors: [Double] = []
            var converged = missing.isEmpty
            var svd: TruncatedSVD
            var means: [Double]
            var centredSquares: Double
            var iteration = 0
            repeat {
                iteration += 1
                // The first iteration's means are the observed ones, which the fill leaves unchanged.
                (means, centredSquares) = iteration == 1 ? (summary.rowMeans, summary.observedCentredSquares
                                                                + missing.centredSquares(UnsafeBufferPointer(X), means: summary.rowMeans))
                    : centredSumOfSquares(UnsafeBufferPointer(X), rows: m, columns: n)
                svd = solver == .exact
                    ? try TruncatedSVD.exact(UnsafeBufferPointer(X), rows: m, columns: n, rank: k, rowMeans: means)
                    : try TruncatedSVD.randomized(UnsafeBufferPointer(X), rows: m, columns: n, rank: k,
                                                  rowMeans: means, oversampling: options.oversampling,
                                                  powerIterations: options.powerIterations, seed: options.seed,
                                                  threads: options.threads)
                var residual = centredSquares - svd.singularValues.reduce(0) { $0 + $1 * $1 }
                var observedCentredSquares = centredSquares
                if !missing.isEmpty {
                    let W: [T] = scaledLeftVectors(svd)
                    let Ht = svd.Vt.transposed.elements.map { T($0) }
                    let filledSquares = missing.centredSquares(UnsafeBufferPointer(X), means: means)
                    residual -= missing.refill(X, W: W, Ht: Ht, rank: k, rowOffsets: means.map { T($0) },
                                               threads: options.threads).squaredChange
                    observedCentredSquares -= filledSquares
                }
                residual = max(residual, 0)
                let relativeError = observedCentredSquares > 0 ? (residual / observedCentredSquares).squareRoot() : 0
                progress?(FactorizationProgress(iteration: iteration, objective: 0.5 * residual,
                                                relativeError: relativeError))
                let previous = objective.last
                objective.append(0.5 * residual)
                relativeErrors.append(relativeError)
                if let previous, options.tolerance > 0,
                   previous - 0.5 * residual <= options.tolerance * max(previous, .leastNormalMagnitude) {
                    converged = true
                }
            } while !missing.isEmpty && !converged && iteration < options.maxIterations

            // Signs: the largest-magnitude loading of each axis is positive, so results are reproducible.
            var W = svd.U, H = svd.Vt
            for component in 0..<k {
                var largest = 0.0
                for i in 0..<m where abs(W[i, component]) > abs(largest) { largest = W[i, component] }
                let sign: Double = largest < 0 ? -1 : 1
                for i in 0..<m { W[i, component] *= sign }
                for t in 0..<n { H[component, t] *= sign * svd.singularValues[component] }
            }
            let variances = svd.singularValues.map { $0 * $0 }
            let fit = FactorizationResult(W: W, H: H, objective: objective, relativeErrors: relativeErrors,
                                          iterations: iteration, converged: converged)
            return PCAResult(factorization: fit, mean: means, singularValues: svd.singularValues,
                             explainedVariance: variances.map { $0 / Double(max(1, n - 1)) },
                             explainedVarianceRatio: variances.map { centredSquares > 0 ? $0 / centredSquares : 0 },
                             solver: solver)
        }
    }

    /// Row means and Σ (x − mean)² over the whole (filled) matrix.
    static func centredSumOfSquares<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, rows m: Int,
                                                   columns n: Int) -> (means: [Double], squares: Double) {
        var means = [Double](repeating: 0, count: m)
        var squares = 0.0
        for row in 0..<m {
            var sum = 0.0
            for t in 0..<n { sum += Double(X[row * n + t]) }
            let mean = sum / Double(n)
            means[row] = mean
            for t in 0..<n {
                let centred = Double(X[row * n + t]) - mean
                squares += centred * centred
            }
        }
        return (means, squares)
    }

    /// U·diag(s), rows × rank, in the data's precision.
    private static func scaledLeftVectors<T: BLASScalar>(_ svd: TruncatedSVD) -> [T] {
        let k = svd.singularValues.count
        var W = [T](repeating: 0, count: svd.U.rows * k)
        for i in 0..<svd.U.rows {
            for component in 0..<k { W[i * k + component] = T(svd.U[i, component] * svd.singularValues[component]) }
        }
        return W
    }
}

extension MissingEntries {
    /// Σ over the missing entries of (value − row mean)²: their share of the centred sum of squares.
    func centredSquares<T: BLASScalar>(_ data: UnsafeBufferPointer<T>, means: [Double]) -> Double {
        var sum = 0.0
        for index in indices {
            let centred = Double(data[index]) - means[index / columns]
            sum += centred * centred
        }
        return sum
    }
}
