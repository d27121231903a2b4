import LinearAlgebra
import NFXCore

/// A factorization method with everything but the rank fixed, for rank sweeps.
public enum FactorizationMethod: Sendable {
    case nmf(NMFOptions)
    case pca(PCAOptions)
}

public struct RankSweepOptions: Sendable {
    public var ranks: [Int]
    public var replicates: Int
    /// Fraction of the observed entries held out in each replicate (0: none, no test error).
    public var holdoutFraction: Double
    public var seed: UInt64

    public init(ranks: [Int], replicates: Int = 5, holdoutFraction: Double = 0.1, seed: UInt64 = 0) {
        self.ranks = ranks
        self.replicates = replicates
        self.holdoutFraction = holdoutFraction
        self.seed = seed
    }
}

/// One fit of a sweep.
public struct RankSweepFit: Sendable {
    public var rank: Int
    public var replicate: Int
    public var W: Matrix
    public var H: Matrix
    /// Relative error on the entries the fit saw, and on the held-out ones (NaN without a hold-out).
    public var trainError: Double
    public var testError: Double
    /// Similarity (`ComponentSimilarity.score`) to the best replicate of the same rank; 1 for the best itself.
    public var similarity: Double
}

public struct RankSweepResult: Sendable {
    public var fits: [RankSweepFit]

    /// Per rank: mean train error, mean test error, mean similarity to the best replicate.
    public var summary: [(rank: Int, trainError: Double, testError: Double, similarity: Double)] {
        let ranks = Array(Set(fits.map(\.rank))).sorted()
        return ranks.map { rank in
            let group = fits.filter { $0.rank == rank }
            let mean = { (values: [Double]) in values.reduce(0, +) / Double(max(1, values.count)) }
            return (rank, mean(group.map(\.trainError)), mean(group.map(\.testError)), mean(group.map(\.similarity)))
        }
    }

    /// The rank with the lowest mean test error, or nil without a hold-out.
    public var rankWithLowestTestError: Int? {
        summary.filter { $0.testError.isFinite }.min { $0.testError < $1.testError }?.rank
    }

    /// The smallest rank whose mean test error is within one standard error (over its replicates) of the lowest
    /// mean, or within 0.1 % of it (Breiman's one-standard-error rule): past the planted rank the test error is
    /// flat to within the hold-out's noise, and the extra components only fit noise. Nil without a hold-out.
    public var selectedRank: Int? {
        guard let best = rankWithLowestTestError else { return nil }
        let bestErrors = fits.filter { $0.rank == best }.map(\.testError)
        let count = Double(bestErrors.count)
        let mean = bestErrors.reduce(0, +) / count
        let variance = count > 1 ? bestErrors.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1) : 0
        let threshold = mean + max((variance / count).squareRoot(), 1e-3 * mean)
        return summary.first { $0.testError.isFinite && $0.testError <= threshold }?.rank
    }
}

/// Rank selection by cross-validation with a "speckled" hold-out (Wold 1978; Williams 2018, "How to
/// cross-validate PCA, clustering, and matrix decomposition models"): random single entries — not whole rows or
/// columns — are hidden from each fit, which is possible because the fits mask missing entries, and the error
/// on them rises once the rank starts fitting noise, where the training error keeps falling.
public enum RankSelection {
    /// Fits every rank `options.replicates` times. Replicate r holds out the same entries at every rank (a paired
    /// comparison of ranks) and NMF replicates start from different random factors. NaN entries of `data` stay
    /// missing throughout; `data` reads as before on return.
    public static func sweep<T: FactorizationScalar>(_ data: inout [T], rows: Int, columns: Int,
                                                     method: FactorizationMethod, options: RankSweepOptions,
                                                     progress: ((String) -> Void)? = nil) throws -> RankSweepResult {
        try T.rankSweep(&data, rows: rows, columns: columns, method: method, options: options, progress: progress)
    }

    /// The body of `sweep`, specialised inside this module for Float and Double (see `FactorizationScalar`).
    static func sweepInPrecision<T: BLASScalar>(_ data: inout [T], rows m: Int, columns n: Int,
                                                method: FactorizationMethod, options: RankSweepOptions,
                                                progress: ((String) -> Void)?) throws -> RankSweepResult {
        guard options.replicates >= 1 else {
            throw FactorizationError.invalidOption(flag: "--replicates", message: "--replicates must be at least 1, got \(options.replicates)")
        }
        guard options.holdoutFraction >= 0, options.holdoutFraction < 1 else {
            throw FactorizationError.invalidOption(flag: "--holdout", message: "--holdout must be in [0, 1), got \(options.holdoutFraction)")
        }
        for rank in options.ranks where rank < 1 || rank > min(m, n) {
            throw FactorizationError.invalidRank(rank: rank, rows: m, columns: n)
        }
        let root = SeededGenerator(seed: options.seed)
        var fits: [RankSweepFit] = []
        for replicate in 0..<options.replicates {
            var maskStream = root.split(stream: UInt64(replicate))
            let heldOut = holdOut(&data, fraction: options.holdoutFraction, using: &maskStream)
            defer { for (index, value) in heldOut { data[index] = value } }
            for rank in options.ranks {
                progress?("rank \(rank), replicate \(replicate + 1) of \(options.replicates)")
                var initStream = root.split(stream: 1_000_000 + UInt64(replicate))
                let fitSeed = initStream.next()
                let (fit, offsets) = try fitOnce(&data, rows: m, columns: n, method: method, rank: rank, seed: fitSeed)
                let testError = heldOut.isEmpty ? Double.nan
                    : heldOutError(heldOut, fit: fit, offsets: offsets, columns: n, centred: offsets != nil)
                fits.append(RankSweepFit(rank: rank, replicate: replicate, W: fit.W, H: fit.H,
                                         trainError: fit.relativeError, testError: testError, similarity: .nan))
            }
        }
        // Similarity of every replicate to the best one (lowest test error, else lowest training error).
        for rank in options.ranks {
            let members = fits.indices.filter { fits[$0].rank == rank }
            let errorOf = { (index: Int) in fits[index].testError.isNaN ? fits[index].trainError : fits[index].testError }
            guard let best = members.min(by: { errorOf($0) < errorOf($1) }) else { continue }
            for index in members {
                fits[index].similarity = index == best ? 1
                    : ComponentSimilarity.score(W: fits[best].W, H: fits[best].H, W: fits[index].W, H: fits[index].H)
            }
        }
        return RankSweepResult(fits: fits)
    }

    /// Hides a random `fraction` of the observed entries (each independently) by setting them to NaN.
    static func holdOut<T: BLASScalar>(_ data: inout [T], fraction: Double,
                                       using generator: inout SeededGenerator) -> [(index: Int, value: T)] {
        guard fraction > 0 else { return [] }
        var heldOut: [(index: Int, value: T)] = []
        heldOut.reserveCapacity(Int(Double(data.count) * fraction * 1.1))
        for index in data.indices where !data[index].isNaN && generator.uniform(in: 0..<1) < fraction {
            heldOut.append((index, data[index]))
            data[index] = .nan
        }
        return heldOut
    }

    static func fitOnce<T: BLASScalar>(_ data: inout [T], rows m: Int, columns n: Int, method: FactorizationMethod,
                                       rank: Int, seed: UInt64) throws -> (FactorizationResult, [Double]?) {
        switch method {
        case var .nmf(options):
            options.rank = rank
            options.seed = seed
            // Replicates explore different starting points; a deterministic start would differ only by hold-out.
            options.initialization = .random
            return (try NonnegativeMatrixFactorization.fitInPrecision(&data, rows: m, columns: n, options: options,
                                                                      progress: nil), nil)
        case var .pca(options):
            options.rank = rank
            options.seed = seed
            let result = try PrincipalComponents.fitInPrecision(&data, rows: m, columns: n, options: options,
                                                                progress: nil)
            return (result.factorization, result.mean)
        }
    }

    /// ‖X − model‖ / ‖X‖ over the held-out entries (PCA: both centred by the fit's means).
    static func heldOutError<T: BLASScalar>(_ heldOut: [(index: Int, value: T)], fit: FactorizationResult,
                                            offsets: [Double]?, columns n: Int, centred: Bool) -> Double {
        let k = fit.W.columns
        var residual = 0.0, total = 0.0
        for (index, value) in heldOut {
            let row = index / n, column = index % n
            let offset = offsets?[row] ?? 0
            var model = offset
            for component in 0..<k { model += fit.W[row, component] * fit.H[component, column] }
            let x = Double(value)
            residual += (x - model) * (x - model)
            total += centred ? (x - offset) * (x - offset) : x * x
        }
        return total > 0 ? (residual / total).squareRoot() : .nan
    }
}
