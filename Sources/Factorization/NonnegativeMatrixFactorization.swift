import LinearAlgebra
import NFXCore

/// Non-negative matrix factorization X ≈ W·H of a units × time matrix (W units × rank, H rank × time ≥ 0).
public enum NonnegativeMatrixFactorization {
    /// Throws `negativeEntries` when any observed entry of `data` is negative (NaN entries are missing).
    public static func checkNonnegative<T: FactorizationScalar>(_ data: [T]) throws {
        try T.checkNonnegative(data)
    }

    static func checkNonnegativeValues<T: BLASScalar>(_ data: [T]) throws {
        var count = 0
        var minimum = T.infinity
        for value in data where value < 0 {
            count += 1
            minimum = min(minimum, value)
        }
        if count > 0 { throw FactorizationError.negativeEntries(count: count, minimum: Double(minimum)) }
    }

    /// Fits W and H to `data` (rows × columns, row-major) in the precision of `T`.
    ///
    /// NaN entries are missing and are masked out of the fit (see `MissingEntries`); during the fit they hold the
    /// model's values and on return they are NaN again, so `data` reads as it did. Any other entry must be ≥ 0.
    /// GEMMs use OpenBLAS' threads; set them with `BLASThreads` (the rest of an iteration is O(rank²·size)).
    public static func fit<T: FactorizationScalar>(_ data: inout [T], rows: Int, columns: Int, options: NMFOptions,
                                                   progress: ((FactorizationProgress) -> Void)? = nil) throws
        -> FactorizationResult {
        try T.nonnegativeFactorization(&data, rows: rows, columns: columns, options: options, progress: progress)
    }

    /// The body of `fit`, specialised inside this module for Float and Double (see `FactorizationScalar`).
    static func fitInPrecision<T: BLASScalar>(_ data: inout [T], rows m: Int, columns n: Int, options: NMFOptions,
                                              progress: ((FactorizationProgress) -> Void)?) throws
        -> FactorizationResult {
        let k = options.rank
        guard k >= 1, k <= min(m, n) else { throw FactorizationError.invalidRank(rank: k, rows: m, columns: n) }
        precondition(data.count == m * n, "NonnegativeMatrixFactorization.fit: \(data.count) values for \(m) × \(n)")
        try validate(options)
        return try data.withUnsafeMutableBufferPointer { X in
            let summary = DataSummary(UnsafeBufferPointer(X), rows: m, columns: n, threads: options.threads)
            if summary.negativeCount > 0 {
                throw FactorizationError.negativeEntries(count: summary.negativeCount, minimum: summary.minimum)
            }
            guard summary.observedCount > 0 else { throw FactorizationError.tooFewObserved(observed: 0, needed: 1) }
            let missing = summary.missing
            missing.fill(X, rowMeans: summary.rowMeans)
            defer { missing.restoreNaN(X) }
            var solver = try HALSState<T>(X: UnsafeBufferPointer(X), rows: m, columns: n, options: options,
                                          mean: summary.observedSum / Double(summary.observedCount))
            return try solver.run(X, missing: missing, observedSquares: summary.observedSquares, progress: progress)
        }
    }

    static func validate(_ options: NMFOptions) throws {
        guard options.maxIterations >= 1 else {
            throw FactorizationError.invalidOption(flag: "--max-iter", message: "--max-iter must be at least 1, got \(options.maxIterations)")
        }
        guard options.tolerance >= 0, options.tolerance.isFinite else {
            throw FactorizationError.invalidOption(flag: "--tol", message: "--tol must be ≥ 0, got \(options.tolerance)")
        }
        let p = options.penalties
        for (flag, value) in [("--l1-w", p.l1W), ("--l2-w", p.l2W), ("--l1-h", p.l1H), ("--l2-h", p.l2H)]
            where !(value >= 0 && value.isFinite) {
            throw FactorizationError.invalidOption(flag: flag, message: "\(flag) must be ≥ 0, got \(value)")
        }
    }
}

/// The iterate of HALS or MU: the factors in update-friendly layout and the products each half-step needs.
///
/// W is kept transposed (Wt, rank × units) so that both half-steps update contiguous rows of a rank × length
/// factor from a rank × length numerator and a rank × rank Gram matrix: the same code updates W and H.
struct HALSState<T: BLASScalar> {
    let m: Int, n: Int, k: Int
    let options: NMFOptions
    var Wt: [T], H: [T]
    /// H·Xᵀ (k × m) and Wt·X (k × n): the numerators, one GEMM over the data each.
    var HXt: [T], WtX: [T]
    /// H·Hᵀ and Wt·Wtᵀ (k × k).
    var HHt: [T], WtW: [T]
    var scratch: [T]
    /// The numerators as GEMM produces them, length × k (see `product`).
    var dataFirst: [T]

    init(X: UnsafeBufferPointer<T>, rows: Int, columns: Int, options: NMFOptions, mean: Double) throws {
        (m, n, k) = (rows, columns, options.rank)
        self.options = options
        (Wt, H) = try NMFStart.factors(X, rows: m, columns: n, options: options, mean: mean)
        HXt = [T](repeating: 0, count: k * m)
        WtX = [T](repeating: 0, count: k * n)
        HHt = [T](repeating: 0, count: k * k)
        WtW = [T](repeating: 0, count: k * k)
        scratch = [T](repeating: 0, count: max(m, n))
        dataFirst = [T](repeating: 0, count: max(m, n) * k)
    }

    mutating func run(_ X: UnsafeMutableBufferPointer<T>, missing: MissingEntries, observedSquares: Double,
                      progress: ((FactorizationProgress) -> Void)?) throws -> FactorizationResult {
        var dataSquares = observedSquares + missing.sumOfSquares(UnsafeBufferPointer(X))
        var objective: [Double] = [], relativeErrors: [Double] = []
        var converged = false
        try gram(H, rows: k, length: n, into: &HHt)
        // Gillis & Glineur (2012): an inner sweep costs ~2k² flops per entry of the factor against ~2·(other
        // dimension)·k for the numerator, so repeating sweeps is nearly free until they stop changing much.
        let innerW = 1 + Int(0.5 * (1 + Double(n) / Double(k)))
        let innerH = 1 + Int(0.5 * (1 + Double(m) / Double(k)))
        let p = options.penalties
        for iteration in 1...options.maxIterations {
            // W half-step: numerator X·Hᵀ, stored transposed.
            try Self.product(H, X, transposeData: true, into: &HXt, rows: k, inner: n, columns: m, dataRows: m,
                             dataColumns: n, dataFirst: &dataFirst, threads: options.threads)
            try Self.update(&Wt, numerator: HXt, gram: HHt, rank: k, length: m, l1: T(p.l1W), l2: T(p.l2W), sweeps: innerW,
                            solver: options.solver, threads: options.threads, scratch: &scratch)
            // H half-step with the new W.
            try Self.product(Wt, X, transposeData: false, into: &WtX, rows: k, inner: m, columns: n, dataRows: m,
                             dataColumns: n, dataFirst: &dataFirst, threads: options.threads)
            try gram(Wt, rows: k, length: m, into: &WtW)
            try Self.update(&H, numerator: WtX, gram: WtW, rank: k, length: n, l1: T(p.l1H), l2: T(p.l2H), sweeps: innerH,
                            solver: options.solver, threads: options.threads, scratch: &scratch)
            try gram(H, rows: k, length: n, into: &HHt)

            // ‖X̃ − W·H‖² from the products already at hand, without forming W·H.
            var residual = dataSquares - 2 * innerProduct(WtX, H) + innerProduct(WtW, HHt)
            if !missing.isEmpty {
                // Re-fill for the next iteration; the squared change corrects X̃'s residual to the masked one.
                let W = transposeRowMajor(Wt, rows: k, columns: m), Ht = transposeRowMajor(H, rows: k, columns: n)
                let refill = missing.refill(X, W: W, Ht: Ht, rank: k, threads: options.threads)
                residual -= refill.squaredChange
                dataSquares += refill.squaresChange
            }
            residual = max(residual, 0)
            let value = 0.5 * residual + penalty(Wt, l1: p.l1W, l2: p.l2W) + penalty(H, l1: p.l1H, l2: p.l2H)
            let relativeError = observedSquares > 0 ? (residual / observedSquares).squareRoot() : 0
            progress?(FactorizationProgress(iteration: iteration, objective: value, relativeError: relativeError))
            let previous = objective.last
            objective.append(value)
            relativeErrors.append(relativeError)
            if let previous, options.tolerance > 0, previous - value <= options.tolerance * max(previous, .leastNormalMagnitude) {
                converged = true
                break
            }
            if value == 0 && options.tolerance > 0 {
                converged = true
                break
            }
        }
        let (W, Hout) = ComponentOrdering.normalizedAndSorted(Wt: Wt.map { Double($0) }, H: H.map { Double($0) },
                                                              rank: k, rows: m, columns: n)
        return FactorizationResult(W: W, H: Hout, objective: objective, relativeErrors: relativeErrors,
                                   iterations: objective.count, converged: converged)
    }

    /// factor (k × inner) · op(X) into `result` (k × columns), with op(X) = Xᵀ when `transposeData`.
    ///
    /// Computed as the transpose, op(X)ᵀ · factorᵀ (columns × k), then transposed (k·columns moves): OpenBLAS
    /// runs this data-first shape ~1.3× faster than the factor-first one, because the large operand is then the
    /// one its kernels stream rather than the one they pack.
    private static func product(_ factor: [T], _ X: UnsafeMutableBufferPointer<T>, transposeData: Bool,
                                into result: inout [T], rows: Int, inner: Int, columns: Int,
                                dataRows m: Int, dataColumns n: Int, dataFirst: inout [T], threads: Int) throws {
        try factor.withUnsafeBufferPointer { a in
            try dataFirst.withUnsafeMutableBufferPointer { c in
                let data = UnsafePointer(X.baseAddress!)
                if transposeData {
                    // X·Hᵀ: m × k.
                    try BlockedProducts.dataTimesFactor(data, rows: m, columns: n, factor: a.baseAddress!, width: rows,
                                                        factorTransposed: true, into: c.baseAddress!, threads: threads)
                } else {
                    // Xᵀ·Wtᵀ: n × k.
                    try BlockedProducts.transposedDataTimesFactor(data, rows: m, columns: n, factor: a.baseAddress!,
                                                                  width: rows, factorTransposed: true,
                                                                  into: c.baseAddress!, threads: threads)
                }
            }
        }
        for component in 0..<rows {
            for index in 0..<columns { result[component * columns + index] = dataFirst[index * rows + component] }
        }
    }

    private func gram(_ factor: [T], rows: Int, length: Int, into result: inout [T]) throws {
        try factor.withUnsafeBufferPointer { a in
            try result.withUnsafeMutableBufferPointer { c in
                try GenericBLAS.gram(transpose: false, size: rows, inner: length, a.baseAddress!, length,
                                     into: c.baseAddress!)
            }
        }
    }

    /// One half-step on `factor` (k × length): HALS coordinate sweeps or one multiplicative update.
    private static func update(_ factor: inout [T], numerator: [T], gram: [T], rank k: Int, length: Int, l1: T,
                               l2: T, sweeps: Int, solver: NMFSolver, threads: Int, scratch: inout [T]) throws {
        switch solver {
        case .hals:
            FactorUpdate.hals(&factor, numerator: numerator, gram: gram, rank: k, length: length, l1: l1, l2: l2,
                              maxSweeps: sweeps, threads: threads)
        case .mu:
            try FactorUpdate.multiplicative(&factor, numerator: numerator, gram: gram, rank: k, length: length,
                                            l1: l1, l2: l2, scratch: &scratch)
        }
    }

    private func penalty(_ factor: [T], l1: Double, l2: Double) -> Double {
        if l1 == 0 && l2 == 0 { return 0 }
        var sum = 0.0, squares = 0.0
        for value in factor {
            sum += Double(value)
            squares += Double(value) * Double(value)
        }
        return l1 * sum + 0.5 * l2 * squares
    }
}

/// Σᵢ aᵢ·bᵢ accumulated in Float64.
func innerProduct<T: BLASScalar>(_ a: [T], _ b: [T]) -> Double {
    var sum = 0.0
    for index in a.indices { sum += Double(a[index]) * Double(b[index]) }
    return sum
}

