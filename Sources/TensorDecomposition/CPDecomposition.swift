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
    static func fitInPrecision<T: FactorizationScalar>(_ data: inout [T], shape: [Int], options: CPOptions,
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
    static func fit<T: FactorizationScalar>(_ X: UnsafeMutableBufferPointer<T>, shape: [Int], options: CPOptions,
                                            progress: ((CPProgress) -> Void)?) throws -> CPResult {
        let scan = TensorScan(UnsafeBufferPointer(X))
        if options.method == .ncp && scan.negativeCount > 0 {
            throw TensorDecompositionError.negativeEntries(count: scan.negativeCount, minimum: scan.minimum)
        }
        guard scan.observedCount > 0 else { throw TensorDecompositionError.tooFewObserved }
        let observedMean = scan.observedSum / Double(scan.observedCount)
        for index in scan.missing { X[index] = T(observedMean) }
        defer { for index in scan.missing { X[index] = .nan } }
        var state = try CPState<T>(X: UnsafeBufferPointer(X), shape: shape, options: options,
                                   dataNorm: (scan.observedSquares / Double(scan.observedCount) * Double(X.count)).squareRoot())
        return try state.run(X, missing: scan.missing, observedSquares: scan.observedSquares, progress: progress)
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

/// The iterate of a 3-way CP fit. Factors are kept transposed (rank × dim) so that a mode's update works on
/// contiguous rows, the layout `halsUpdate` shares with NMF; `standard` holds the dim × rank copies the
/// contractions read.
///
/// One iteration reads the tensor twice, the dimension-tree schedule (Phan, Tichavský & Cichocki 2013): with
/// X viewed as an (I·J) × K matrix, Y = X·C is computed once and gives both the mode-0 MTTKRP
/// (M0[i, r] = Σ_j Y[ij, r]·B[j, r]) and, after A is updated, the mode-1 MTTKRP (M1[j, r] = Σ_i A[i, r]·Y[ij, r]);
/// the mode-2 MTTKRP is Xᵀ·(A ⊙ B). No unfolding is copied; Y and the Khatri–Rao product A ⊙ B (I·J × rank each)
/// are the only large temporaries. The GEMMs run on row blocks of X, one single-threaded BLAS call per block.
struct CPState<T: FactorizationScalar> {
    let dims: [Int]
    let rank: Int
    let options: CPOptions
    /// Transposed factors, rank × dims[n].
    var factors: [[T]]
    var grams: [[T]]
    /// Yᵀ = (X·C)ᵀ (rank × I·J) and A ⊙ B ((I·J) × rank), written by concurrent GEMMs on disjoint blocks.
    let workspace: CPWorkspace<T>
    private var Yshared: UnsafeMutablePointer<T> { workspace.Y }
    private var KRshared: UnsafeMutablePointer<T> { workspace.khatriRao }

    init(X: UnsafeBufferPointer<T>, shape: [Int], options: CPOptions, dataNorm: Double) throws {
        dims = shape
        rank = options.rank
        self.options = options
        factors = try CPStart.factors(X, shape: shape, options: options, dataNorm: dataNorm)
        grams = []
        workspace = CPWorkspace(count: shape[0] * shape[1] * options.rank)
        for mode in 0..<3 { grams.append(try gram(factors[mode], length: dims[mode])) }
    }

    mutating func run(_ X: UnsafeMutableBufferPointer<T>, missing: [Int], observedSquares: Double,
                      progress: ((CPProgress) -> Void)?) throws -> CPResult {
        let (I, J, K, R) = (dims[0], dims[1], dims[2], rank)
        var dataSquares = observedSquares
        for index in missing { dataSquares += Double(X[index]) * Double(X[index]) }
        var objective: [Double] = [], relativeErrors: [Double] = []
        var converged = false
        let data = UnsafePointer(X.baseAddress!)
        for iteration in 1...options.maxIterations {
            // Pass 1: Y = X_(IJ×K) · C.
            // Yᵀ (rank × I·J) = C ᵀ· X_(IJ×K)ᵀ, block by block of rows of X: the data-first orientation OpenBLAS
            // runs fastest, and the layout in which both contractions read contiguous rows.
            let (C, Yt, source) = (factors[2], Yshared, SharedPointer(data))
            _ = try splitOverRows(I * J) { first, count in
                try C.withUnsafeBufferPointer { C in
                    try GenericBLAS.gemm(transposeA: false, transposeB: true, rows: R, columns: count, inner: K,
                                         C.baseAddress!, K, source.pointer + first * K, K, Yt + first, I * J)
                }
            }
            let m0 = try contractOverTime(Bt: factors[1])
            try update(mode: 0, numerator: m0)
            let m1 = try contractOverUnits(At: factors[0])
            try update(mode: 1, numerator: m1)
            let A = transposeRowMajor(factors[0], rows: R, columns: I)
            // Pass 2: M2 = X_(IJ×K)ᵀ · (A ⊙ B), computed transposed: M2ᵀ = (A ⊙ B)ᵀ · X.
            let newB = transposeRowMajor(factors[1], rows: R, columns: J)
            try fillKhatriRao(A: A, B: newB)
            let KRblock = KRshared
            let partials = try splitOverRows(I * J) { first, count -> [T] in
                var partial = [T](repeating: 0, count: R * K)
                try partial.withUnsafeMutableBufferPointer { M in
                    try GenericBLAS.gemm(transposeA: true, transposeB: false, rows: R, columns: K, inner: count,
                                         KRblock + first * R, R, source.pointer + first * K, K, M.baseAddress!, K)
                }
                return partial
            }
            var M2t = partials[0]
            for partial in partials.dropFirst() { for index in M2t.indices { M2t[index] += partial[index] } }
            try update(mode: 2, numerator: M2t)

            // ‖X̃ − model‖² = ‖X̃‖² − 2⟨M2, C⟩ + Σ (AᵀA ∘ BᵀB ∘ CᵀC): no model tensor is formed.
            var inner = 0.0
            for index in M2t.indices { inner += Double(M2t[index]) * Double(factors[2][index]) }
            var modelSquares = 0.0
            for index in 0..<(R * R) {
                modelSquares += Double(grams[0][index]) * Double(grams[1][index]) * Double(grams[2][index])
            }
            var residual = dataSquares - 2 * inner + modelSquares
            if !missing.isEmpty {
                let refill = try refillMissing(X, missing: missing)
                residual -= refill.squaredChange
                dataSquares += refill.squaresChange
            }
            residual = max(residual, 0)
            let value = 0.5 * residual
            let relativeError = observedSquares > 0 ? (residual / observedSquares).squareRoot() : 0
            progress?(CPProgress(iteration: iteration, relativeError: relativeError))
            let previous = objective.last
            objective.append(value)
            relativeErrors.append(relativeError)
            if options.tolerance > 0, let previous,
               abs(previous - value) <= options.tolerance * max(previous, .leastNormalMagnitude) {
                converged = true
                break
            }
            if value == 0 && options.tolerance > 0 {
                converged = true
                break
            }
        }
        let (sorted, weights) = CPNormalization.normalizedAndSorted(
            factors.enumerated().map { mode, factor in transposeRowMajor(factor, rows: R, columns: dims[mode]).map { Double($0) } },
            dims: dims, rank: R, signFix: options.method == .cp)
        return CPResult(factors: sorted, weights: weights, objective: objective, relativeErrors: relativeErrors,
                        iterations: objective.count, converged: converged)
    }

    /// Updates factor `mode` from its MTTKRP (numerator, rank × dims[mode]) and the other modes' Grams.
    private mutating func update(mode: Int, numerator: [T]) throws {
        let R = rank
        var hadamard = [T](repeating: 1, count: R * R)
        for other in 0..<3 where other != mode {
            for index in hadamard.indices { hadamard[index] *= grams[other][index] }
        }
        switch options.method {
        case .ncp:
            // Gillis & Glineur's inner sweeps pay even more here than in NMF: a sweep costs rank² per entry of
            // the factor, the numerator a pass over the tensor.
            let others = dims.reduce(1, *) / dims[mode]
            let sweeps = min(100, 1 + Int(0.5 * (1 + Double(others) / Double(R))))
            T.halsUpdate(&factors[mode], numerator: numerator, gram: hadamard, rank: R, length: dims[mode],
                         maxSweeps: sweeps, threads: options.threads)
        case .cp:
            factors[mode] = try leastSquaresUpdate(numerator: numerator, gram: hadamard, length: dims[mode])
        }
        grams[mode] = try gram(factors[mode], length: dims[mode])
    }

    /// ALS: the factor F (rank × length) solving G·F = M, G the Hadamard product of the other Grams (symmetric
    /// positive semi-definite). Cholesky when G is positive definite, least squares (minimum norm) otherwise.
    private func leastSquaresUpdate(numerator: [T], gram: [T], length: Int) throws -> [T] {
        let G = Matrix(rows: rank, columns: rank, elements: gram.map { Double($0) })
        let M = Matrix(rows: rank, columns: length, elements: numerator.map { Double($0) })
        do {
            return try solveSymmetricPositiveDefinite(G, M).elements.map { T($0) }
        } catch {
            do {
                return try leastSquares(G, M).elements.map { T($0) }
            } catch {
                throw TensorDecompositionError.numerical("CP-ALS: the normal equations could not be solved (\(error))")
            }
        }
    }

    /// M0ᵀ[r, i] = Σ_j Yᵀ[r, ij]·Bᵀ[r, j]: contiguous dot products, over blocks of components.
    private func contractOverTime(Bt: [T]) throws -> [T] {
        let (I, J, R) = (dims[0], dims[1], rank)
        let Yt = Yshared
        let blocks = try splitOverRows(R) { first, count -> [T] in
            var M = [T](repeating: 0, count: count * I)
            Bt.withUnsafeBufferPointer { Bt in
                for r in first..<(first + count) {
                    let b = Bt.baseAddress! + r * J
                    for i in 0..<I {
                        let y = Yt + r * I * J + i * J
                        var sum: T = 0
                        for j in 0..<J { sum += y[j] * b[j] }
                        M[(r - first) * I + i] = sum
                    }
                }
            }
            return M
        }
        return Array(blocks.joined())
    }

    /// M1ᵀ[r, j] = Σ_i A[i, r]·Yᵀ[r, ij]: contiguous axpys, over blocks of components.
    private func contractOverUnits(At: [T]) throws -> [T] {
        let (I, J, R) = (dims[0], dims[1], rank)
        let Yt = Yshared
        let blocks = try splitOverRows(R) { first, count -> [T] in
            var M = [T](repeating: 0, count: count * J)
            At.withUnsafeBufferPointer { At in
                M.withUnsafeMutableBufferPointer { M in
                    for r in first..<(first + count) {
                        let out = M.baseAddress! + (r - first) * J
                        for i in 0..<I {
                            let a = At[r * I + i], y = Yt + r * I * J + i * J
                            for j in 0..<J { out[j] += a * y[j] }
                        }
                    }
                }
            }
            return M
        }
        return Array(blocks.joined())
    }

    /// (A ⊙ B)[ij, r] = A[i, r]·B[j, r], over blocks of units.
    private func fillKhatriRao(A: [T], B: [T]) throws {
        let (I, J, R) = (dims[0], dims[1], rank)
        let KR = KRshared
        _ = try splitOverRows(I) { first, count in
            A.withUnsafeBufferPointer { A in
                B.withUnsafeBufferPointer { B in
                    for i in first..<(first + count) {
                        let a = A.baseAddress! + i * R
                        for j in 0..<J {
                            let b = B.baseAddress! + j * R, out = KR + (i * J + j) * R
                            for r in 0..<R { out[r] = a[r] * b[r] }
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` on a fixed number of row blocks of an (I·J)-row matrix, on up to `options.threads` threads
    /// with single-threaded BLAS: OpenBLAS threads these skinny GEMMs poorly (measured ~1.5× slower than two
    /// single-threaded halves). The blocks do not depend on the thread count, so neither do the results.
    private func splitOverRows<Value>(_ rows: Int, _ body: @escaping (_ first: Int, _ count: Int) throws -> Value)
        throws -> [Value] {
        let blocks = min(4, max(1, rows))
        let workers = min(options.threads, blocks)
        let results = ConcurrentSlots<Result<Value, Error>>(count: blocks)
        let task = BlockTask(body: body)
        withSingleThreadedBLAS {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for block in stride(from: worker, to: blocks, by: workers) {
                    let first = rows * block / blocks, end = rows * (block + 1) / blocks
                    results.set(block, Result { try task.body(first, end - first) })
                }
            }
        }
        return try results.values.map { try $0!.get() }
    }

    /// Sets the missing entries to the model's values; returns the EM correction terms (see NMF's refill).
    /// The indices ascend, so a fibre (i, j, ·) changes rarely and is located by division only then; the
    /// fixed blocks of indices run on the threads and their sums are added in order.
    private func refillMissing(_ X: UnsafeMutableBufferPointer<T>,
                               missing: [Int]) throws -> (squaredChange: Double, squaresChange: Double) {
        let (J, K, R) = (dims[1], dims[2], rank)
        let A = transposeRowMajor(factors[0], rows: R, columns: dims[0])
        let B = transposeRowMajor(factors[1], rows: R, columns: J)
        let C = transposeRowMajor(factors[2], rows: R, columns: K)
        let target = SharedMutablePointer(X.baseAddress!)
        let parts = try splitOverRows(missing.count) { first, count -> (Double, Double) in
            var squaredChange = 0.0, squaresChange = 0.0
            var fibre = -1, fibreEnd = 0
            var ab = [T](repeating: 0, count: R)
            for position in first..<(first + count) {
                let index = missing[position]
                if index >= fibreEnd {
                    fibre = index / K
                    fibreEnd = (fibre + 1) * K
                    let (i, j) = (fibre / J, fibre % J)
                    for r in 0..<R { ab[r] = A[i * R + r] * B[j * R + r] }
                }
                let k = index - fibre * K
                var value: T = 0
                for r in 0..<R { value += ab[r] * C[k * R + r] }
                let old = Double(target.pointer[index]), new = Double(value)
                squaredChange += (old - new) * (old - new)
                squaresChange += new * new - old * old
                target.pointer[index] = value
            }
            return (squaredChange, squaresChange)
        }
        return (parts.reduce(0) { $0 + $1.0 }, parts.reduce(0) { $0 + $1.1 })
    }

    private func gram(_ factor: [T], length: Int) throws -> [T] {
        var result = [T](repeating: 0, count: rank * rank)
        try factor.withUnsafeBufferPointer { F in
            try result.withUnsafeMutableBufferPointer { G in
                try GenericBLAS.gram(transpose: false, size: rank, inner: length, F.baseAddress!, length,
                                     into: G.baseAddress!)
            }
        }
        return result
    }
}


/// The data pointer shared with the row-block workers, which only read it.
struct SharedPointer<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}

/// The tensor shared with the EM-fill workers, which write disjoint missing entries.
struct SharedMutablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// The large scratch buffers of a CP fit, freed with the fit.
final class CPWorkspace<T>: @unchecked Sendable {
    let Y: UnsafeMutablePointer<T>
    let khatriRao: UnsafeMutablePointer<T>
    private let count: Int

    init(count: Int) {
        self.count = count
        Y = .allocate(capacity: max(1, count))
        khatriRao = .allocate(capacity: max(1, count))
    }

    deinit {
        Y.deallocate()
        khatriRao.deallocate()
    }
}

/// A block body shared with the workers; it writes only its own rows.
struct BlockTask<Value>: @unchecked Sendable {
    let body: (Int, Int) throws -> Value
}
