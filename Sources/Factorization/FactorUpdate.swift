import LinearAlgebra

/// Updates of one factor F (rank × length, ≥ 0) of X ≈ W·H with the other factor fixed, given the numerator P
/// (the other factor times the data, rank × length) and the other factor's Gram matrix G (rank × rank). For the H
/// half-step P = Wᵀ·X and G = Wᵀ·W; for W, with W stored transposed, P = H·Xᵀ and G = H·Hᵀ.
enum FactorUpdate {
    /// HALS: exact minimisation over one row of F at a time with the others fixed,
    /// F_j ← max(0, (P_j − Σ_{l≠j} G_jl·F_l − l1) / (G_jj + l2)), repeated for up to `maxSweeps` sweeps while a
    /// sweep still changes F by more than 10 % of the first (Gillis & Glineur 2012, δ = 0.1).
    ///
    /// A row that comes out all zero is set to 10⁻¹⁶ × the factor's largest entry instead, as in Gillis &
    /// Glineur's code: an exactly zero component could never come back (its Gram diagonal would stay 0), while a
    /// tiny one gets its optimal partner at the next half-step, whose update does not depend on its scale.
    static func hals<T: BLASScalar>(_ factor: inout [T], numerator: [T], gram: [T], rank k: Int, length: Int,
                                    l1: T, l2: T, maxSweeps: Int, scratch: inout [T]) throws {
        var firstChange = 0.0
        let largest = factor.max() ?? 0
        let floor = largest > 0 ? largest * 1e-16 : 1e-16
        try factor.withUnsafeMutableBufferPointer { F in
            try numerator.withUnsafeBufferPointer { P in
                try gram.withUnsafeBufferPointer { G in
                    try scratch.withUnsafeMutableBufferPointer { residual in
                        for sweep in 0..<maxSweeps {
                            var change = 0.0
                            for j in 0..<k {
                                let diagonal = G[j * k + j]
                                let row = F.baseAddress! + j * length
                                guard diagonal + l2 > 0 else {
                                    // The partner component is zero, so this row does not enter the fit; keep it
                                    // at the floor so that the partner's next update can revive the pair.
                                    row.update(repeating: T(floor), count: length)
                                    continue
                                }
                                // residual = P_j − Σ_l G_jl·F_l (one GEMV), then add back the j-th term.
                                residual.baseAddress!.update(from: P.baseAddress! + j * length, count: length)
                                try GenericBLAS.gemv(transpose: true, rows: k, columns: length, alpha: -1,
                                                     F.baseAddress!, length, G.baseAddress! + j * k, beta: 1,
                                                     residual.baseAddress!)
                                let scale = 1 / (diagonal + l2)
                                var rowChange: T = 0, rowMaximum: T = 0
                                for t in 0..<length {
                                    let old = row[t]
                                    let new = max(0, (residual[t] + diagonal * old - l1) * scale)
                                    rowChange += (new - old) * (new - old)
                                    rowMaximum = max(rowMaximum, new)
                                    row[t] = new
                                }
                                if rowMaximum == 0 { row.update(repeating: T(floor), count: length) }
                                change += Double(rowChange)
                            }
                            if sweep == 0 {
                                firstChange = change
                            } else if change <= 0.01 * firstChange {
                                break
                            }
                        }
                    }
                }
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
