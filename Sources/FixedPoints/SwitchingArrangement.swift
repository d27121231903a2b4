import LinearAlgebra

/// The switching hyperplanes of a piecewise-linear RNN and the affine map F takes inside each region.
///
/// Every hyperplane h is {z : m_j·z + β_h = 0} for a unit j: β_h = b_j for ReLU; clipped ReLU adds a second,
/// parallel hyperplane β_h = b_j − θ_j, since relu(x) − relu(x − θ) switches at 0 and at θ. On the positive side
/// of h the unit contributes w_h·n_j·(m_j·z + β_h) with w_h = +1 at 0 and −1 at θ, so a region's map is
/// z ↦ (A + K) z + k + c with K = Σ_{h positive} w_h n_j m_jᵀ and k = Σ_{h positive} w_h β_h n_j, and crossing one
/// hyperplane changes K by one rank-1 term (Durstewitz 2017; Pals et al. 2024, Proposition 1).
struct SwitchingArrangement: Sendable {
    let rank: Int
    let count: Int
    /// m_j of each hyperplane, count × rank.
    let normals: [Double]
    /// β_h, exact.
    let offsets: [Double]
    let units: [Int]
    /// Per hyperplane, one record of rank² + rank values: w_h n_j m_jᵀ (rank × rank) then w_h β_h n_j (rank), so
    /// that adding a hyperplane's term touches one contiguous record.
    let terms: [Double]
    /// I − A (rank × rank) and c: the fixed-point system is (I − A − K) z = k + c.
    let identityMinusA: [Double]
    let c: [Double]

    init(_ model: LowRankRNN) {
        precondition(model.activation.isPiecewiseLinear)
        let R = model.rank
        var normals: [Double] = [], offsets: [Double] = [], units: [Int] = [], weights: [Double] = []
        for j in 0..<model.units {
            let row = (0..<R).map { model.M[j, $0] }
            normals += row
            offsets.append(model.b[j])
            units.append(j)
            weights.append(1)
            if model.activation == .clippedRelu {
                normals += row
                offsets.append(model.b[j] - model.threshold(j))
                units.append(j)
                weights.append(-1)
            }
        }
        let count = units.count
        let stride = R * R + R
        var terms = [Double](repeating: 0, count: count * stride)
        for h in 0..<count {
            let j = units[h]
            for r in 0..<R {
                let weighted = weights[h] * model.N[r, j]
                terms[h * stride + R * R + r] = weighted * offsets[h]
                for s in 0..<R { terms[h * stride + r * R + s] = weighted * normals[h * R + s] }
            }
        }
        var identityMinusA = [Double](repeating: 0, count: R * R)
        for r in 0..<R { for s in 0..<R { identityMinusA[r * R + s] = (r == s ? 1 : 0) - model.A[r, s] } }
        self.rank = R
        self.count = count
        self.normals = normals
        self.offsets = offsets
        self.units = units
        self.terms = terms
        self.identityMinusA = identityMinusA
        self.c = model.c
    }

    /// Adds (sign +1) or removes (−1) hyperplane h's term to a region's K and k.
    @inline(__always)
    func accumulate(_ h: Int, sign: Double, K: UnsafeMutablePointer<Double>, k: UnsafeMutablePointer<Double>) {
        terms.withUnsafeBufferPointer { t in
            SwitchingArrangement.addTerm(t.baseAddress! + h * (rank * rank + rank), rank: rank, sign: sign, K: K, k: k)
        }
    }

    /// The fixed point of the affine map with terms K, k, written to z; false when I − A − K is singular
    /// (no isolated fixed point in that region).
    @inline(__always)
    func solveFixedPoint(K: UnsafePointer<Double>, k: UnsafePointer<Double>,
                         scratch: UnsafeMutablePointer<Double>, z: UnsafeMutablePointer<Double>) -> Bool {
        identityMinusA.withUnsafeBufferPointer { a in
            c.withUnsafeBufferPointer { constant in
                SwitchingArrangement.solveFixedPoint(rank: rank, identityMinusA: a.baseAddress!,
                                                     constant: constant.baseAddress!, K: K, k: k, scratch: scratch, z: z)
            }
        }
    }

    /// K += sign · record[0..<R²], k += sign · record[R²..<R² + R]: one hyperplane's term (see `terms`).
    @inline(__always)
    static func addTerm(_ record: UnsafePointer<Double>, rank R: Int, sign: Double, K: UnsafeMutablePointer<Double>,
                        k: UnsafeMutablePointer<Double>) {
        for i in 0..<R * R { K[i] += sign * record[i] }
        for r in 0..<R { k[r] += sign * record[R * R + r] }
    }

    /// Solves (I − A − K) z = k + c into z.
    @inline(__always)
    static func solveFixedPoint(rank R: Int, identityMinusA: UnsafePointer<Double>, constant: UnsafePointer<Double>,
                                K: UnsafePointer<Double>, k: UnsafePointer<Double>,
                                scratch: UnsafeMutablePointer<Double>, z: UnsafeMutablePointer<Double>) -> Bool {
        for i in 0..<R * R { scratch[i] = identityMinusA[i] - K[i] }
        for r in 0..<R { z[r] = k[r] + constant[r] }
        return SmallLinearSystem.solve(scratch, z, R, relativeTolerance: singularTolerance)
    }

    /// m_h·z + β_h.
    @inline(__always)
    func value(_ h: Int, at z: UnsafePointer<Double>) -> Double {
        offsets.withUnsafeBufferPointer { o in
            normals.withUnsafeBufferPointer { n in
                let row = n.baseAddress! + h * rank
                var sum = o[h]
                for r in 0..<rank { sum += row[r] * z[r] }
                return sum
            }
        }
    }

    /// Tolerance for "on the required side" of h at z: rounding of m·z + β, relative to its terms.
    @inline(__always)
    func tolerance(_ h: Int, at z: UnsafePointer<Double>) -> Double {
        var magnitude = abs(offsets[h])
        for r in 0..<rank { magnitude += abs(normals[h * rank + r] * z[r]) }
        return SwitchingArrangement.tolerance(magnitude: magnitude)
    }

    /// The rounding allowance for m·z + β given Σ|terms|: generous against rounding (1e-16 relative), far below
    /// any real distance between regions.
    @inline(__always)
    static func tolerance(magnitude: Double) -> Double { sideTolerance * (1 + magnitude) }

    static let sideTolerance = 1e-9
    /// A region's system is singular when |det| is below this × Hadamard's bound (no isolated fixed point).
    static let singularTolerance = 1e-11
    /// A hyperplane is parallel to a line when |slope| ≤ this × Σ|normal|: rounding of an exact zero, far below
    /// the slopes of the perturbed arrangement's crossings.
    static let parallelTolerance = 1e-13
}
