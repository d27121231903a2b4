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
/// the mode-2 MTTKRP is Xᵀ·(A ⊙ B), each Khatri–Rao row formed as it is used. No unfolding is copied;
/// Y (I·J × rank) is the only large temporary. Both passes read X in place through CKernels' tall-and-skinny
/// kernels (BLAS GEMM would first copy X into packed buffers, which at small ranks costs more than the
/// arithmetic), on fixed row blocks over the threads.
///
/// Several members (an ensemble's replicates) are fitted together by stacking their factors: an MTTKRP is linear
/// in the columns of the factors, so one pass over the tensor serves every member, and the memory-bound passes of
/// small ranks turn into fewer, wider, compute-bound ones. Each member is updated, scored and stopped on its own;
/// a stopped member leaves the stack.
struct CPState<T: TensorScalar> {
    let dims: [Int]
    /// Method, stopping rule and threads, shared by the members.
    let options: CPOptions
    var members: [CPMember<T>]
    /// Y = X·C, I·J × (total rank), written by the row blocks concurrently, each its own rows.
    let workspace: CPWorkspace<T>

    /// Extrapolation applies to non-negative CP only (see `CPOptions.accelerate`).
    private var accelerates: Bool { options.accelerate && options.method == .ncp }

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
        workspace = CPWorkspace(count: shape[0] * shape[1] * totalRank)
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

            // Pass 1: Y (I·J × R) = X_(IJ×K) · C, read in place a block of rows at a time (CKernels).
            let C = transposeRowMajor(stacked(mode: 2, active), rows: R, columns: K), Y = workspace.Y
            _ = try splitOverRows(I * J) { first, count in
                C.withUnsafeBufferPointer { C in
                    T.timesSmall(source.pointer + first * K, rows: count, columns: K, C.baseAddress!,
                                 rank: R, into: Y + first * R)
                }
            }
            let m0 = try contractOverTime(B: transposeRowMajor(stacked(mode: 1, active), rows: R, columns: J), rank: R)
            try update(mode: 0, numerators: m0, active)
            let A = transposeRowMajor(stacked(mode: 0, active), rows: R, columns: I)
            let m1 = try contractOverUnits(A: A, rank: R)
            try update(mode: 1, numerators: m1, active)

            // Pass 2: M2 (K × R) = X_(IJ×K)ᵀ · (A ⊙ B), the Khatri–Rao rows formed as they are used (CKernels).
            let B = transposeRowMajor(stacked(mode: 1, active), rows: R, columns: J)
            let partials = try splitOverRows(I * J) { first, count -> [T] in
                var partial = [T](repeating: 0, count: K * R)
                A.withUnsafeBufferPointer { A in
                    B.withUnsafeBufferPointer { B in
                        partial.withUnsafeMutableBufferPointer { M in
                            T.transposeTimesKhatriRao(source.pointer + first * K, first: first, rows: count,
                                                      columns: K, A.baseAddress!, B.baseAddress!, rowsOfB: J,
                                                      rank: R, into: M.baseAddress!)
                        }
                    }
                }
                return partial
            }
            var M2 = partials[0]
            for partial in partials.dropFirst() { for index in M2.indices { M2[index] += partial[index] } }
            let M2t = transposeRowMajor(M2, rows: K, columns: R)
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

    /// M0ᵀ (R × I), M0[i, r] = Σ_j Y[ij, r]·B[j, r], over blocks of units.
    private func contractOverTime(B: [T], rank R: Int) throws -> [T] {
        let (I, J) = (dims[0], dims[1])
        let Y = SharedPointer(UnsafePointer(workspace.Y))
        let blocks = try splitOverRows(I) { first, count -> [T] in
            var M = [T](repeating: 0, count: count * R)
            B.withUnsafeBufferPointer { B in
                M.withUnsafeMutableBufferPointer { M in
                    for i in first..<(first + count) {
                        let out = M.baseAddress! + (i - first) * R
                        for j in 0..<J {
                            let y = Y.pointer + (i * J + j) * R, b = B.baseAddress! + j * R
                            for r in 0..<R { out[r] += y[r] * b[r] }
                        }
                    }
                }
            }
            return M
        }
        return transposeRowMajor(Array(blocks.joined()), rows: I, columns: R)
    }

    /// M1ᵀ (R × J), M1[j, r] = Σ_i A[i, r]·Y[ij, r], over blocks of time points.
    private func contractOverUnits(A: [T], rank R: Int) throws -> [T] {
        let (I, J) = (dims[0], dims[1])
        let Y = SharedPointer(UnsafePointer(workspace.Y))
        let blocks = try splitOverRows(J) { first, count -> [T] in
            var M = [T](repeating: 0, count: count * R)
            A.withUnsafeBufferPointer { A in
                M.withUnsafeMutableBufferPointer { M in
                    for i in 0..<I {
                        let a = A.baseAddress! + i * R
                        for j in first..<(first + count) {
                            let y = Y.pointer + (i * J + j) * R, out = M.baseAddress! + (j - first) * R
                            for r in 0..<R { out[r] += a[r] * y[r] }
                        }
                    }
                }
            }
            return M
        }
        return transposeRowMajor(Array(blocks.joined()), rows: J, columns: R)
    }

    /// Runs `body` on a fixed number of row blocks of a `rows`-row range, on up to `options.threads` threads. The
    /// blocks do not depend on the thread count, so neither do the results.
    private func splitOverRows<Value>(_ rows: Int, _ body: @escaping (_ first: Int, _ count: Int) throws -> Value)
        throws -> [Value] {
        let blocks = min(Self.rowBlocks, max(1, rows))
        let workers = min(options.threads, blocks)
        let results = ConcurrentSlots<Result<Value, Error>>(count: blocks)
        let task = BlockTask(body: body)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for block in stride(from: worker, to: blocks, by: workers) {
                let first = rows * block / blocks, end = rows * (block + 1) / blocks
                results.set(block, Result { try task.body(first, end - first) })
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

/// Y, the one large temporary of a CP fit, allocated once and freed with the fit.
final class CPWorkspace<T>: @unchecked Sendable {
    let Y: UnsafeMutablePointer<T>

    init(count: Int) {
        Y = .allocate(capacity: max(1, count))
    }

    deinit {
        Y.deallocate()
    }
}

/// A block body shared with the workers; it writes only its own rows.
struct BlockTask<Value>: @unchecked Sendable {
    let body: (Int, Int) throws -> Value
}
