import Dispatch
import Factorization
import LinearAlgebra
import NFXCore

/// One model of a CP fit: its factors, kept transposed (rank × dim per mode) so that a mode's update works on
/// contiguous rows, the layout `halsUpdate` shares with NMF, and its history.
struct CPMember<T: FactorizationScalar> {
    let rank: Int
    var factors: [[T]]
    var grams: [[T]]
    var objective: [Double] = []
    var relativeErrors: [Double] = []
    var converged = false
    /// Still iterating: neither converged nor at the iteration limit.
    var active = true
    /// Extrapolation (see `CPAcceleration`): each mode's last update before extrapolation, and the step sizes.
    var plain: [[T]] = []
    var step = CPAcceleration.initialStep
    var stepLimit = 1.0
}

/// Heuristic extrapolation with restarts (HER; Ang, Cohen, Gillis & Hien 2021, "Accelerating block coordinate
/// descent for non-negative tensor factorization"): after each mode's update F, the next updates use
/// F + β(F − F_previous) (projected onto F ≥ 0 for ncp). The error is measured at the extrapolated point of the
/// other modes and the last mode's plain update, at no extra cost; when it rises, the extrapolation is discarded
/// (restart), β shrinks by `shrink` and its ceiling drops to the β that failed; otherwise β grows by `growth`
/// up to the ceiling, which itself creeps towards 1 by `ceilingGrowth`.
enum CPAcceleration {
    static let initialStep = 0.5
    static let shrink = 1.5
    static let growth = 1.05
    static let ceilingGrowth = 1.01
}

/// The iterate of one or more 3-way CP fits of the same tensor.
///
/// One iteration reads the tensor twice, the dimension-tree schedule (Phan, Tichavský & Cichocki 2013): with
/// X viewed as an (I·J) × K matrix, Y = X·C is computed once and gives both the mode-0 MTTKRP
/// (M0[i, r] = Σ_j Y[ij, r]·B[j, r]) and, after A is updated, the mode-1 MTTKRP (M1[j, r] = Σ_i A[i, r]·Y[ij, r]);
/// the mode-2 MTTKRP is Xᵀ·(A ⊙ B), the Khatri–Rao product formed a chunk of rows at a time. No unfolding is
/// copied; Y (rank × I·J) is the only large temporary. The GEMMs run on row blocks of X, one single-threaded
/// BLAS call per block.
///
/// Several members (an ensemble's replicates) are fitted together by stacking their factors: an MTTKRP is linear
/// in the columns of the factors, so one GEMM over the tensor serves every member, and the memory-bound passes of
/// small ranks turn into fewer, wider, compute-bound ones. Each member is updated, scored and stopped on its own;
/// a stopped member leaves the stack.
struct CPState<T: FactorizationScalar> {
    let dims: [Int]
    /// Method, stopping rule and threads, shared by the members.
    let options: CPOptions
    var members: [CPMember<T>]
    /// Yᵀ = (X·C)ᵀ, (total rank) × I·J, written by concurrent GEMMs on disjoint blocks.
    let workspace: CPWorkspace<T>

    /// Extrapolation applies to non-negative CP only (see `CPOptions.accelerate`).
    private var accelerates: Bool { options.accelerate && options.method == .ncp }

    /// Rows of A ⊙ B formed at once in the mode-2 pass: large enough for an efficient GEMM, small enough to stay
    /// in cache next to the rows of X it multiplies.
    private static var khatriRaoChunk: Int { 2048 }
    /// Row blocks of the (I·J)-row passes: fixed, so that results do not depend on the thread count.
    private static var rowBlocks: Int { 4 }

    init(X: UnsafeBufferPointer<T>, shape: [Int], options: CPOptions, members memberOptions: [CPOptions],
         dataNorm: Double) throws {
        dims = shape
        self.options = options
        members = []
        for member in memberOptions {
            let factors = try CPStart.factors(X, shape: shape, options: member, dataNorm: dataNorm)
            var grams: [[T]] = []
            for mode in 0..<3 { grams.append(try Self.gram(factors[mode], rank: member.rank, length: shape[mode])) }
            members.append(CPMember(rank: member.rank, factors: factors, grams: grams))
        }
        let totalRank = memberOptions.reduce(0) { $0 + $1.rank }
        workspace = CPWorkspace(count: shape[0] * shape[1] * totalRank,
                                khatriRaoCount: Self.rowBlocks * Self.khatriRaoChunk * totalRank)
    }

    /// Iterates until every member has stopped. With `missing` entries (one member only) they are refilled
    /// with the model after every iteration.
    mutating func run(_ X: UnsafeMutableBufferPointer<T>, missing: [Int], observedSquares: Double,
                      progress: ((_ member: Int, CPProgress) -> Void)?) throws -> [CPResult] {
        precondition(missing.isEmpty || members.count == 1, "CPState: missing entries need a fit of its own")
        let (I, J, K) = (dims[0], dims[1], dims[2])
        var dataSquares = observedSquares
        for index in missing { dataSquares += Double(X[index]) * Double(X[index]) }
        let source = SharedPointer(UnsafePointer(X.baseAddress!))
        for iteration in 1...options.maxIterations {
            let active = members.indices.filter { members[$0].active }
            if active.isEmpty { break }
            let ranks = active.map { members[$0].rank }
            let R = ranks.reduce(0, +)

            // Pass 1: Yᵀ (R × I·J) = Cᵀ · X_(IJ×K)ᵀ, block by block of rows of X: the data-first orientation
            // OpenBLAS runs fastest, and the layout in which both contractions read contiguous rows.
            let C = stacked(mode: 2, active), Yt = workspace.Y
            _ = try splitOverRows(I * J) { _, first, count in
                try C.withUnsafeBufferPointer { C in
                    try GenericBLAS.gemm(transposeA: false, transposeB: true, rows: R, columns: count, inner: K,
                                         C.baseAddress!, K, source.pointer + first * K, K, Yt + first, I * J)
                }
            }
            let m0 = try contractOverTime(Bt: stacked(mode: 1, active), rank: R)
            try update(mode: 0, numerators: m0, active)
            let m1 = try contractOverUnits(At: stacked(mode: 0, active), rank: R)
            try update(mode: 1, numerators: m1, active)

            // Pass 2: M2ᵀ (R × K) = (A ⊙ B)ᵀ · X_(IJ×K).
            let A = transposeRowMajor(stacked(mode: 0, active), rows: R, columns: I)
            let B = transposeRowMajor(stacked(mode: 1, active), rows: R, columns: J)
            let scratch = workspace.khatriRao
            let partials = try splitOverRows(I * J) { block, first, count -> [T] in
                try Self.khatriRaoProduct(A: A, B: B, rank: R, columnsOfB: J, rows: first..<(first + count),
                                          times: source.pointer, columns: K,
                                          scratch: scratch + block * Self.khatriRaoChunk * R)
            }
            var M2t = partials[0]
            for partial in partials.dropFirst() { for index in M2t.indices { M2t[index] += partial[index] } }
            try update(mode: 2, numerators: M2t, active)

            var offset = 0
            for (slot, member) in active.enumerated() {
                let rows = offset..<(offset + ranks[slot])
                offset += ranks[slot]
                var residual = dataSquares - 2 * innerProduct(M2t, rows: rows, member: member)
                    + modelSquares(member)
                if !missing.isEmpty {
                    let refill = try refillMissing(X, missing: missing)
                    residual -= refill.squaredChange
                    dataSquares += refill.squaresChange
                }
                record(max(residual, 0), member: member, iteration: iteration, observedSquares: observedSquares)
                if accelerates && members[member].active { try adaptStep(member: member) }
                progress?(member, CPProgress(iteration: iteration, relativeError: members[member].relativeErrors.last!))
            }
        }
        return members.map { member in
            let (sorted, weights) = CPNormalization.normalizedAndSorted(
                member.factors.enumerated().map { mode, factor in
                    transposeRowMajor(factor, rows: member.rank, columns: dims[mode]).map { Double($0) }
                },
                dims: dims, rank: member.rank, signFix: options.method == .cp)
            return CPResult(factors: sorted, weights: weights, objective: member.objective,
                            relativeErrors: member.relativeErrors, iterations: member.objective.count,
                            converged: member.converged)
        }
    }

    /// Appends an iteration's objective to `member` and stops it on the relative decrease (`options.tolerance`)
    /// or the iteration limit.
    private mutating func record(_ residual: Double, member: Int, iteration: Int, observedSquares: Double) {
        let value = 0.5 * residual
        let previous = members[member].objective.last
        members[member].objective.append(value)
        members[member].relativeErrors.append(observedSquares > 0 ? (residual / observedSquares).squareRoot() : 0)
        if options.tolerance > 0 {
            let stalled = previous.map { abs($0 - value) <= options.tolerance * max($0, .leastNormalMagnitude) }
            if stalled == true || value == 0 { members[member].converged = true }
        }
        if members[member].converged || iteration == options.maxIterations { members[member].active = false }
    }

    /// ⟨M2, C⟩ of one member: with ‖X̃ − model‖² = ‖X̃‖² − 2⟨M2, C⟩ + Σ (AᵀA ∘ BᵀB ∘ CᵀC), no model tensor is formed.
    private func innerProduct(_ M2t: [T], rows: Range<Int>, member: Int) -> Double {
        let (K, C) = (dims[2], members[member].factors[2])
        var inner = 0.0
        for index in 0..<(rows.count * K) { inner += Double(M2t[rows.lowerBound * K + index]) * Double(C[index]) }
        return inner
    }

    private func modelSquares(_ member: Int) -> Double {
        let grams = members[member].grams
        var squares = 0.0
        for index in grams[0].indices { squares += Double(grams[0][index]) * Double(grams[1][index]) * Double(grams[2][index]) }
        return squares
    }

    /// The active members' transposed factors of `mode`, one above the other ((total rank) × dims[mode]).
    private func stacked(mode: Int, _ active: [Int]) -> [T] {
        if active.count == 1 { return members[active[0]].factors[mode] }
        return active.flatMap { members[$0].factors[mode] }
    }

    /// Updates factor `mode` of every active member from its rows of the stacked MTTKRP and its other Grams.
    private mutating func update(mode: Int, numerators: [T], _ active: [Int]) throws {
        var offset = 0
        for member in active {
            let R = members[member].rank, length = dims[mode]
            let numerator = active.count == 1 ? numerators
                : Array(numerators[(offset * length)..<((offset + R) * length)])
            offset += R
            var hadamard = [T](repeating: 1, count: R * R)
            for other in 0..<3 where other != mode {
                for index in hadamard.indices { hadamard[index] *= members[member].grams[other][index] }
            }
            switch options.method {
            case .ncp:
                // Gillis & Glineur's inner sweeps pay even more here than in NMF: a sweep costs rank² per entry
                // of the factor, the numerator a pass over the tensor.
                let others = dims.reduce(1, *) / length
                let sweeps = min(100, 1 + Int(0.5 * (1 + Double(others) / Double(R))))
                T.halsUpdate(&members[member].factors[mode], numerator: numerator, gram: hadamard, rank: R,
                             length: length, maxSweeps: sweeps, threads: options.threads)
            case .cp:
                members[member].factors[mode] = try leastSquaresUpdate(numerator: numerator, gram: hadamard, rank: R,
                                                                       length: length)
            }
            if accelerates && mode < 2 { extrapolate(member: member, mode: mode) }
            members[member].grams[mode] = try Self.gram(members[member].factors[mode], rank: R, length: length)
        }
    }

    /// factors[mode] ← F + β(F − previous F), keeping F as the plain update (for ncp projected onto ≥ 0).
    private mutating func extrapolate(member: Int, mode: Int) {
        let updated = members[member].factors[mode]
        if members[member].plain.count < 3 { members[member].plain = members[member].factors }
        let previous = members[member].plain[mode]
        let beta = T(members[member].step)
        var extrapolated = updated
        for index in extrapolated.indices {
            let value = updated[index] + beta * (updated[index] - previous[index])
            extrapolated[index] = options.method == .ncp ? max(value, 0) : value
        }
        members[member].plain[mode] = updated
        members[member].factors[mode] = extrapolated
    }

    /// After an iteration's error is recorded: restart (discard the extrapolated modes) when the error rose, else
    /// grow β; then extrapolate the last mode for the next iteration.
    private mutating func adaptStep(member: Int) throws {
        let errors = members[member].objective
        guard members[member].plain.count == 3 else {
            members[member].plain = members[member].factors
            return
        }
        if errors.count >= 2 && errors[errors.count - 1] > errors[errors.count - 2] {
            members[member].stepLimit = members[member].step
            members[member].step /= CPAcceleration.shrink
            for mode in 0..<2 {
                members[member].factors[mode] = members[member].plain[mode]
                members[member].grams[mode] = try Self.gram(members[member].factors[mode], rank: members[member].rank,
                                                            length: dims[mode])
            }
            members[member].plain[2] = members[member].factors[2]
            return
        }
        members[member].step = min(members[member].stepLimit, members[member].step * CPAcceleration.growth)
        members[member].stepLimit = min(1, members[member].stepLimit * CPAcceleration.ceilingGrowth)
        extrapolate(member: member, mode: 2)
        members[member].grams[2] = try Self.gram(members[member].factors[2], rank: members[member].rank, length: dims[2])
    }

    /// ALS: the factor F (rank × length) solving G·F = M, G the Hadamard product of the other Grams (symmetric
    /// positive semi-definite). Cholesky when G is positive definite, least squares (minimum norm) otherwise.
    private func leastSquaresUpdate(numerator: [T], gram: [T], rank: Int, length: Int) throws -> [T] {
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
    private func contractOverTime(Bt: [T], rank R: Int) throws -> [T] {
        let (I, J) = (dims[0], dims[1])
        let Yt = workspace.Y
        let blocks = try splitOverRows(R) { _, first, count -> [T] in
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
    private func contractOverUnits(At: [T], rank R: Int) throws -> [T] {
        let (I, J) = (dims[0], dims[1])
        let Yt = workspace.Y
        let blocks = try splitOverRows(R) { _, first, count -> [T] in
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

    /// (A ⊙ B)ᵀ restricted to `rows` of the (I·J)-row unfolding, times those rows of X (I·J × `columns`):
    /// the rows of A ⊙ B ((A ⊙ B)[ij, r] = A[i, r]·B[j, r]) are formed a chunk at a time, never all at once.
    private static func khatriRaoProduct(A: [T], B: [T], rank R: Int, columnsOfB J: Int, rows: Range<Int>,
                                         times X: UnsafePointer<T>, columns K: Int,
                                         scratch KR: UnsafeMutablePointer<T>) throws -> [T] {
        var product = [T](repeating: 0, count: R * K)
        try A.withUnsafeBufferPointer { A in
            try B.withUnsafeBufferPointer { B in
                try product.withUnsafeMutableBufferPointer { M in
                    var start = rows.lowerBound
                    while start < rows.upperBound {
                        let count = min(khatriRaoChunk, rows.upperBound - start)
                        for row in 0..<count {
                            let (i, j) = ((start + row) / J, (start + row) % J)
                            let a = A.baseAddress! + i * R, b = B.baseAddress! + j * R, out = KR + row * R
                            for r in 0..<R { out[r] = a[r] * b[r] }
                        }
                        try GenericBLAS.gemm(transposeA: true, transposeB: false, rows: R, columns: K, inner: count,
                                             KR, R, X + start * K, K, beta: start == rows.lowerBound ? 0 : 1,
                                             M.baseAddress!, K)
                        start += count
                    }
                }
            }
        }
        return product
    }

    /// Runs `body` on a fixed number of row blocks of an (I·J)-row matrix, on up to `options.threads` threads
    /// with single-threaded BLAS: OpenBLAS threads these skinny GEMMs poorly (measured ~1.5× slower than two
    /// single-threaded halves). The blocks do not depend on the thread count, so neither do the results.
    private func splitOverRows<Value>(_ rows: Int,
                                      _ body: @escaping (_ block: Int, _ first: Int, _ count: Int) throws -> Value)
        throws -> [Value] {
        let blocks = min(Self.rowBlocks, max(1, rows))
        let workers = min(options.threads, blocks)
        let results = ConcurrentSlots<Result<Value, Error>>(count: blocks)
        let task = BlockTask(body: body)
        withSingleThreadedBLAS {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for block in stride(from: worker, to: blocks, by: workers) {
                    let first = rows * block / blocks, end = rows * (block + 1) / blocks
                    results.set(block, Result { try task.body(block, first, end - first) })
                }
            }
        }
        return try results.values.map { try $0!.get() }
    }

    /// Sets the missing entries to the (only) member's values; returns the EM correction terms (see NMF's
    /// refill). The indices ascend, so a fibre (i, j, ·) changes rarely and is located by division only then;
    /// the fixed blocks of indices run on the threads and their sums are added in order.
    private func refillMissing(_ X: UnsafeMutableBufferPointer<T>,
                               missing: [Int]) throws -> (squaredChange: Double, squaresChange: Double) {
        let (J, K, R) = (dims[1], dims[2], members[0].rank)
        let factors = members[0].factors
        let A = transposeRowMajor(factors[0], rows: R, columns: dims[0])
        let B = transposeRowMajor(factors[1], rows: R, columns: J)
        let C = transposeRowMajor(factors[2], rows: R, columns: K)
        let target = SharedMutablePointer(X.baseAddress!)
        let parts = try splitOverRows(missing.count) { _, first, count -> (Double, Double) in
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

    private static func gram(_ factor: [T], rank: Int, length: Int) throws -> [T] {
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

/// The scratch buffers of a CP fit, allocated once and freed with the fit: Yᵀ, and per row block a chunk of
/// rows of A ⊙ B.
final class CPWorkspace<T>: @unchecked Sendable {
    let Y: UnsafeMutablePointer<T>
    let khatriRao: UnsafeMutablePointer<T>

    init(count: Int, khatriRaoCount: Int) {
        Y = .allocate(capacity: max(1, count))
        khatriRao = .allocate(capacity: max(1, khatriRaoCount))
    }

    deinit {
        Y.deallocate()
        khatriRao.deallocate()
    }
}

/// A block body shared with the workers; it writes only its own rows.
struct BlockTask<Value>: @unchecked Sendable {
    let body: (Int, Int, Int) throws -> Value
}
