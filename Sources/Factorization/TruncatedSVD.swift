import LinearAlgebra
import NFXCore

/// The leading `rank` singular triplets of a (possibly row-centred) matrix: X − μ·1ᵀ ≈ U·diag(s)·Vt.
struct TruncatedSVD {
    /// rows × rank, orthonormal columns.
    var U: Matrix
    /// Descending.
    var singularValues: [Double]
    /// rank × columns, orthonormal rows.
    var Vt: Matrix

    /// Exact: LAPACK's divide-and-conquer SVD of the centred copy. Costs O(m·n·min(m, n)) and a copy of the data.
    static func exact<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, rows: Int, columns: Int, rank: Int,
                                     rowMeans: [Double]?) throws -> TruncatedSVD {
        var centred = Matrix(rows: rows, columns: columns)
        for row in 0..<rows {
            let mean = rowMeans?[row] ?? 0
            for column in 0..<columns {
                centred.elements[row * columns + column] = Double(X[row * columns + column]) - mean
            }
        }
        let (U, s, Vt) = try numerical { try svd(centred) }
        return TruncatedSVD(U: U.leadingColumns(rank), singularValues: Array(s.prefix(rank)),
                            Vt: Matrix(rows: rank, columns: columns, elements: Array(Vt.elements.prefix(rank * columns))))
    }

    /// Randomized subspace iteration (Halko, Martinsson & Tropp 2011, Algorithm 4.4): a Gaussian sketch of
    /// rank + `oversampling` columns, `powerIterations` rounds of re-orthonormalised multiplication by X and Xᵀ
    /// (which sharpen a slowly decaying spectrum), then an exact SVD of the small projected matrix.
    ///
    /// Every product with X is one GEMM over the data in its own precision; centring is applied to the products
    /// (X·B − μ·(1ᵀB)), so the centred matrix is never formed and memory stays at the input's size.
    static func randomized<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, rows m: Int, columns n: Int, rank: Int,
                                          rowMeans: [Double]?, oversampling: Int = 10, powerIterations: Int,
                                          seed: UInt64, threads: Int) throws -> TruncatedSVD {
        let width = min(rank + oversampling, min(m, n))
        var generator = SeededGenerator(seed: seed)
        var sketch = [T](repeating: 0, count: n * width)
        for index in sketch.indices { sketch[index] = T(generator.normal()) }
        var basis = try orthonormalBasis(Matrix(rows: m, columns: width,
                                                elements: try multiplyRight(X, m, n, sketch, width, rowMeans,
                                                                                threads: threads)))
        for _ in 0..<powerIterations {
            let left = try orthonormalBasis(Matrix(rows: n, columns: width,
                                                   elements: try multiplyLeftTransposed(X, m, n, basis, rowMeans,
                                                                                            threads: threads)))
            basis = try orthonormalBasis(Matrix(rows: m, columns: width,
                                                elements: try multiplyRight(X, m, n, left.elements.map { T($0) },
                                                                            width, rowMeans, threads: threads)))
        }
        // B = Qᵀ·(X − μ1ᵀ), width × n; its SVD rotates Q into the leading left singular vectors.
        let projectedT = try multiplyLeftTransposed(X, m, n, basis, rowMeans, threads: threads)
        let projected = Matrix(rows: n, columns: width, elements: projectedT).transposed
        let (smallU, s, Vt) = try numerical { try svd(projected) }
        let U = try numerical { try multiply(basis, smallU) }
        return TruncatedSVD(U: U.leadingColumns(rank), singularValues: Array(s.prefix(rank)),
                            Vt: Matrix(rows: rank, columns: n, elements: Array(Vt.elements.prefix(rank * n))))
    }

    /// (X − μ1ᵀ)·B for B n × width, as Float64.
    private static func multiplyRight<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, _ m: Int, _ n: Int, _ B: [T],
                                                     _ width: Int, _ rowMeans: [Double]?,
                                                     threads: Int) throws -> [Double] {
        var product = [T](repeating: 0, count: m * width)
        try B.withUnsafeBufferPointer { b in
            try product.withUnsafeMutableBufferPointer { c in
                try BlockedProducts.dataTimesFactor(X.baseAddress!, rows: m, columns: n, factor: b.baseAddress!,
                                                    width: width, factorTransposed: false, into: c.baseAddress!,
                                                    threads: threads)
            }
        }
        var result = product.map { Double($0) }
        if let rowMeans {
            var columnSums = [Double](repeating: 0, count: width)
            for t in 0..<n { for j in 0..<width { columnSums[j] += Double(B[t * width + j]) } }
            for i in 0..<m { for j in 0..<width { result[i * width + j] -= rowMeans[i] * columnSums[j] } }
        }
        return result
    }

    /// (X − μ1ᵀ)ᵀ·Q for Q m × width, as Float64 (n × width).
    private static func multiplyLeftTransposed<T: BLASScalar>(_ X: UnsafeBufferPointer<T>, _ m: Int, _ n: Int,
                                                              _ Q: Matrix, _ rowMeans: [Double]?,
                                                              threads: Int) throws -> [Double] {
        let width = Q.columns
        let q = Q.elements.map { T($0) }
        var product = [T](repeating: 0, count: n * width)
        try q.withUnsafeBufferPointer { q in
            try product.withUnsafeMutableBufferPointer { c in
                try BlockedProducts.transposedDataTimesFactor(X.baseAddress!, rows: m, columns: n,
                                                              factor: q.baseAddress!, width: width,
                                                              factorTransposed: false, into: c.baseAddress!,
                                                              threads: threads)
            }
        }
        var result = product.map { Double($0) }
        if let rowMeans {
            var meanProjection = [Double](repeating: 0, count: width)
            for i in 0..<m { for j in 0..<width { meanProjection[j] += rowMeans[i] * Q.elements[i * width + j] } }
            for t in 0..<n { for j in 0..<width { result[t * width + j] -= meanProjection[j] } }
        }
        return result
    }
}

extension Matrix {
    /// The first `count` columns.
    func leadingColumns(_ count: Int) -> Matrix {
        var result = Matrix(rows: rows, columns: count)
        for row in 0..<rows {
            for column in 0..<count { result.elements[row * count + column] = elements[row * columns + column] }
        }
        return result
    }
}

/// Runs a LinearAlgebra call, reporting its failure as a factorization error.
func numerical<R>(_ body: () throws -> R) throws -> R {
    do { return try body() } catch let error as LinearAlgebraError {
        throw FactorizationError.numerical(String(describing: error))
    }
}
