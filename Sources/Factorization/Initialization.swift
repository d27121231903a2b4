import LinearAlgebra
import NFXCore

/// Starting factors for NMF, in the solver's layout: Wt (rank × rows) and H (rank × columns), row-major.
enum NMFStart {
    /// Builds the starting factors. `X` must already have its missing entries filled; `mean` is the mean of its
    /// observed entries.
    static func factors<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, rows m: Int, columns n: Int,
                                       options: NMFOptions, mean: Double) throws -> (Wt: [T], H: [T]) {
        let k = options.rank
        switch options.initialization {
        case let .given(W, H):
            guard W.rows == m, W.columns == k, H.rows == k, H.columns == n else {
                throw FactorizationError.invalidInitialFactors(
                    "W is \(W.rows) × \(W.columns) and H is \(H.rows) × \(H.columns), but the data is \(m) × \(n) at rank \(k): need W \(m) × \(k) and H \(k) × \(n)")
            }
            guard (W.elements + H.elements).allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                throw FactorizationError.invalidInitialFactors("W and H must be finite and non-negative")
            }
            return (W.transposed.elements.map { T($0) }, H.elements.map { T($0) })
        case .random:
            // scikit-learn's scaling: entries of W·H then average the data's mean.
            let scale = (max(mean, 0) / Double(k)).squareRoot()
            var generator = SeededGenerator(seed: options.seed)
            let Wt = (0..<(k * m)).map { _ in T(scale * abs(generator.normal())) }
            let H = (0..<(k * n)).map { _ in T(scale * abs(generator.normal())) }
            return (Wt, H)
        case .nndsvd, .nndsvda:
            let svd = try leadingSingularTriplets(X, rows: m, columns: n, rank: k, seed: options.seed,
                                                 threads: options.threads)
            var (Wt, H) = nonnegativeDoubleSVD(svd, rank: k)
            if options.initialization == .nndsvda {
                for index in Wt.indices where Wt[index] == 0 { Wt[index] = mean }
                for index in H.indices where H[index] == 0 { H[index] = mean }
            }
            return (Wt.map { T($0) }, H.map { T($0) })
        }
    }

    /// Exact SVD when the data is small, randomized otherwise (an initialisation need not be exact).
    static func leadingSingularTriplets<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, rows m: Int, columns n: Int,
                                                       rank: Int, seed: UInt64, threads: Int) throws -> TruncatedSVD {
        if min(m, n) <= 200 {
            return try TruncatedSVD.exact(X, rows: m, columns: n, rank: rank, rowMeans: nil)
        }
        return try TruncatedSVD.randomized(X, rows: m, columns: n, rank: rank, rowMeans: nil, powerIterations: 2,
                                           seed: seed, threads: threads)
    }

    /// NNDSVD (Boutsidis & Gallopoulos 2008): each singular pair (u, v) is split into its positive and negative
    /// parts and the pair of parts with the larger norm product becomes a non-negative rank-1 term. The leading
    /// pair of a non-negative matrix is one-signed (Perron–Frobenius), so it is used whole.
    static func nonnegativeDoubleSVD(_ svd: TruncatedSVD, rank k: Int) -> (Wt: [Double], H: [Double]) {
        let m = svd.U.rows, n = svd.Vt.columns
        var Wt = [Double](repeating: 0, count: k * m)
        var H = [Double](repeating: 0, count: k * n)
        for component in 0..<min(k, svd.singularValues.count) {
            let u = svd.U.column(component)
            let v = Array(svd.Vt.row(component))
            let s = svd.singularValues[component]
            let norm = { (x: [Double]) in x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            let (up, un) = (u.map { max($0, 0) }, u.map { max(-$0, 0) })
            let (vp, vn) = (v.map { max($0, 0) }, v.map { max(-$0, 0) })
            let positive = norm(up) * norm(vp), negative = norm(un) * norm(vn)
            let (x, y, sigma) = positive >= negative ? (up, vp, positive) : (un, vn, negative)
            let (xNorm, yNorm) = (norm(x), norm(y))
            guard xNorm > 0, yNorm > 0 else { continue }
            let weight = (s * sigma).squareRoot()
            for i in 0..<m { Wt[component * m + i] = weight * x[i] / xNorm }
            for t in 0..<n { H[component * n + t] = weight * y[t] / yNorm }
        }
        return (Wt, H)
    }
}
