import Dispatch
import Factorization
import LinearAlgebra
import NFXCore

/// CP decomposition (tensor component analysis, Williams et al. 2018) of a units × time × trials tensor:
/// X ≈ Σ_r w_r · a_r ∘ b_r ∘ c_r, non-negative by HALS or unconstrained by ALS.
public enum CPDecomposition {
    /// Fits `data`, a row-major tensor of `shape` (3 dimensions), in the precision of `T`.
    ///
    /// NaN entries are missing and are masked out of the fit by EM (filled with the current model before each
    /// iteration, which lowers the masked objective monotonically); on return they are NaN again.
    public static func fit<T: TensorScalar>(_ data: inout [T], shape: [Int], options: CPOptions,
                                            progress: ((CPProgress) -> Void)? = nil) throws -> CPResult {
        try T.cpDecomposition(&data, shape: shape, options: options, progress: progress)
    }

    /// The body of `fit`, specialised inside this module for Float and Double (see `TensorScalar`).
    static func fitInPrecision<T: TensorScalar>(_ data: inout [T], shape: [Int], options: CPOptions,
                                                progress: ((CPProgress) -> Void)?) throws -> CPResult {
        try validate(shape: shape, count: data.count, options: options)
        return try data.withUnsafeMutableBufferPointer { X in
            try fit(X, shape: shape, options: options, progress: progress)
        }
    }

    static func validate(shape: [Int], count: Int, options: CPOptions) throws {
        guard shape.count == 3, shape.allSatisfy({ $0 >= 1 }) else { throw TensorDecompositionError.invalidShape(shape) }
        precondition(count == shape.reduce(1, *), "CPDecomposition: \(count) values for shape \(shape)")
        guard options.rank >= 1 else { throw TensorDecompositionError.invalidRank(options.rank) }
        guard options.maxIterations >= 1 else {
            throw TensorDecompositionError.invalidOption(flag: "--max-iter", message: "--max-iter must be at least 1, got \(options.maxIterations)")
        }
        guard options.tolerance >= 0, options.tolerance.isFinite else {
            throw TensorDecompositionError.invalidOption(flag: "--tol", message: "--tol must be ≥ 0, got \(options.tolerance)")
        }
    }

    /// The fit on a buffer the caller owns. Entries are written only where they are NaN (the EM fill), so fits
    /// of complete data may share one buffer across threads.
    static func fit<T: TensorScalar>(_ X: UnsafeMutableBufferPointer<T>, shape: [Int], options: CPOptions,
                                     progress: ((CPProgress) -> Void)?) throws -> CPResult {
        let scan = TensorScan(UnsafeBufferPointer(X))
        if options.method == .ncp && scan.negativeCount > 0 {
            throw TensorDecompositionError.negativeEntries(count: scan.negativeCount, minimum: scan.minimum)
        }
        guard scan.observedCount > 0 else { throw TensorDecompositionError.tooFewObserved }
        let observedMean = scan.observedSum / Double(scan.observedCount)
        for index in scan.missing { X[index] = T(observedMean) }
        defer { for index in scan.missing { X[index] = .nan } }
        var state = try CPState<T>(X: UnsafeBufferPointer(X), shape: shape, options: options, members: [options],
                                   dataNorm: (scan.observedSquares / Double(scan.observedCount) * Double(X.count)).squareRoot())
        return try state.run(X, missing: scan.missing, observedSquares: scan.observedSquares,
                             progress: progress.map { report in { _, step in report(step) } })[0]
    }

    /// Several fits of complete data that share every pass over the tensor (see `CPState`): `members` give each
    /// fit's rank, start and seed; `options` the method, stopping rule and threads common to all; `scan` the
    /// data's scan when the caller has one (an ensemble scans once for all its batches). The results equal those
    /// of separate fits up to rounding.
    static func fitTogether<T: TensorScalar>(_ X: UnsafeBufferPointer<T>, shape: [Int], options: CPOptions,
                                             members: [CPOptions], scan: TensorScan? = nil,
                                             progress: ((_ member: Int, CPProgress) -> Void)? = nil)
        throws -> [CPResult] {
        let scan = scan ?? TensorScan(X)
        precondition(scan.missing.isEmpty, "CPDecomposition.fitTogether: data with missing entries is fitted alone")
        if options.method == .ncp && scan.negativeCount > 0 {
            throw TensorDecompositionError.negativeEntries(count: scan.negativeCount, minimum: scan.minimum)
        }
        var state = try CPState<T>(X: X, shape: shape, options: options, members: members,
                                   dataNorm: scan.observedSquares.squareRoot())
        return try state.run(UnsafeMutableBufferPointer(mutating: X), missing: [],
                             observedSquares: scan.observedSquares, progress: progress)
    }
}

/// One pass over the data: missing entries, the sum and squares of the observed ones, negative entries.
struct TensorScan {
    var missing: [Int] = []
    var observedCount = 0
    var observedSum = 0.0
    var observedSquares = 0.0
    var negativeCount = 0
    var minimum = Double.infinity

    init<T: BLASScalar>(_ X: UnsafeBufferPointer<T>) {
        for index in 0..<X.count {
            let value = X[index]
            if value.isNaN {
                missing.append(index)
                continue
            }
            let x = Double(value)
            observedCount += 1
            observedSum += x
            observedSquares += x * x
            if x < 0 {
                negativeCount += 1
                minimum = min(minimum, x)
            }
        }
    }
}
