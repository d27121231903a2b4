import Dispatch
import LinearAlgebra

/// Updates of one factor F (rank × length, ≥ 0) of X ≈ W·H with the other factor fixed, given the numerator P
/// (the other factor times the data, rank × length) and the other factor's Gram matrix G (rank × rank). For the H
/// half-step P = Wᵀ·X and G = Wᵀ·W; for W, with W stored transposed, P = H·Xᵀ and G = H·Hᵀ.
enum FactorUpdate {
    /// HALS: exact minimisation over one row of F at a time with the others fixed,
    /// F_j ← max(0, (P_j − Σ_{l≠j} G_jl·F_l − l1) / (G_jj + l2)), repeated for up to `maxSweeps` sweeps while a
    /// sweep still changes F by more than 10 % of the first (Gillis & Glineur 2012, δ = 0.1).
    ///
    /// Entry (j, t) depends only on column t of F, so the columns are processed in blocks small enough to stay in
    /// cache, each block doing all its sweeps (with the 10 % rule applied per block) before the next, and the
    /// blocks run on `threads` threads. The result does not depend on the thread count.
    ///
    /// A row that comes out all zero is set to 10⁻¹⁶ × the factor's largest entry instead, as in Gillis &
    /// Glineur's code: an exactly zero component could never come back (its Gram diagonal would stay 0), while a
    /// tiny one gets its optimal partner at the next half-step, whose update does not depend on its scale.
    static func hals<T: BLASScalar>(_ factor: inout [T], numerator: [T], gram: [T], rank k: Int, length: Int,
                                    l1: T, l2: T, maxSweeps: Int, threads: Int) {
        let largest = factor.max() ?? 0
        let floor = T(largest > 0 ? largest * 1e-16 : 1e-16)
        let blockLength = 256
        let blocks = (length + blockLength - 1) / blockLength
        let workers = max(1, min(threads, blocks))
        factor.withUnsafeMutableBufferPointer { F in
            numerator.withUnsafeBufferPointer { P in
                gram.withUnsafeBufferPointer { G in
                    let shared = HALSBuffers(F: F.baseAddress!, P: P.baseAddress!, G: G.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        var accumulator = [T](repeating: 0, count: blockLength)
                        var block = worker
                        while block < blocks {
                            let start = block * blockLength, end = min(length, start + blockLength)
                            accumulator.withUnsafeMutableBufferPointer { accumulator in
                                sweepBlock(shared, rank: k, length: length, columns: start..<end, l1: l1, l2: l2,
                                           maxSweeps: maxSweeps, accumulator: accumulator.baseAddress!)
                            }
                            block += workers
                        }
                    }
                }
            }
            for j in 0..<k {
                let row = F.baseAddress! + j * length
                var rowMaximum: T = 0
                for t in 0..<length { rowMaximum = max(rowMaximum, row[t]) }
                if rowMaximum == 0 { row.update(repeating: floor, count: length) }
            }
        }
    }

    /// All the HALS sweeps of one block of columns.
    private static func sweepBlock<T: BLASScalar>(_ buffers: HALSBuffers<T>, rank k: Int, length: Int,
                                                  columns: Range<Int>, l1: T, l2: T, maxSweeps: Int,
                                                  accumulator: UnsafeMutablePointer<T>) {
        let (F, P, G) = (buffers.F, buffers.P, buffers.G)
        let start = columns.lowerBound, width = columns.count
        var firstChange: T = 0
        for sweep in 0..<maxSweeps {
            var change: T = 0
            for j in 0..<k {
                let diagonal = G[j * k + j]
                let row = F + j * length + start
                guard diagonal + l2 > 0 else {
                    // The partner component is zero: this row does not enter the fit (the floor is set after).
                    row.update(repeating: 0, count: width)
                    continue
                }
                // accumulator = P_j − Σ_{l≠j} G_jl·F_l over the block.
                accumulator.update(from: P + j * length + start, count: width)
                for l in 0..<k where l != j {
                    let coefficient = G[j * k + l]
                    let other = F + l * length + start
                    for t in 0..<width { accumulator[t] -= coefficient * other[t] }
                }
                let scale = 1 / (diagonal + l2)
                // Four partial sums: a single running sum would serialise the loop on the add latency.
                var partial: (T, T, T, T) = (0, 0, 0, 0)
                var t = 0
                while t + 4 <= width {
                    let new0 = max(0, (accumulator[t] - l1) * scale), old0 = row[t]
                    let new1 = max(0, (accumulator[t + 1] - l1) * scale), old1 = row[t + 1]
                    let new2 = max(0, (accumulator[t + 2] - l1) * scale), old2 = row[t + 2]
                    let new3 = max(0, (accumulator[t + 3] - l1) * scale), old3 = row[t + 3]
                    partial.0 += (new0 - old0) * (new0 - old0)
                    partial.1 += (new1 - old1) * (new1 - old1)
                    partial.2 += (new2 - old2) * (new2 - old2)
                    partial.3 += (new3 - old3) * (new3 - old3)
                    (row[t], row[t + 1], row[t + 2], row[t + 3]) = (new0, new1, new2, new3)
                    t += 4
                }
                while t < width {
                    let new = max(0, (accumulator[t] - l1) * scale), old = row[t]
                    partial.0 += (new - old) * (new - old)
                    row[t] = new
                    t += 1
                }
                change += (partial.0 + partial.1) + (partial.2 + partial.3)
            }
            if sweep == 0 {
                firstChange = change
            } else if change <= 0.01 * firstChange {
                break
            }
        }
    }

    /// Lee & Seung's multiplicative update F ← F ⊙ P / (G·F + l1 + l2·F), monotone for P ≥ 0. A zero entry stays
    /// zero, which is why HALS is the default.
    static func multiplicative<T: BLASScalar>(_ factor: inout [T], numerator: [T], gram: [T], rank k: Int,
                                              length: Int, l1: T, l2: T, scratch: inout [T]) throws {
        var denominator = [T](repeating: 0, count: k * length)
        try gram.withUnsafeBufferPointer { G in
            try factor.withUnsafeBufferPointer { F in
                try denominator.withUnsafeMutableBufferPointer { D in
                    try GenericBLAS.gemm(transposeA: false, transposeB: false, rows: k, columns: length, inner: k,
                                         G.baseAddress!, k, F.baseAddress!, length, D.baseAddress!, length)
                }
            }
        }
        let tiny = T.leastNormalMagnitude
        for index in factor.indices {
            let value = factor[index]
            let below = denominator[index] + l1 + l2 * value
            factor[index] = below > tiny ? value * max(numerator[index], 0) / below : 0
        }
    }
}

/// The factor, numerator and Gram matrix shared by the HALS workers; each writes only its own columns of F.
private struct HALSBuffers<T: BLASScalar>: @unchecked Sendable {
    let F: UnsafeMutablePointer<T>
    let P: UnsafePointer<T>
    let G: UnsafePointer<T>
}
