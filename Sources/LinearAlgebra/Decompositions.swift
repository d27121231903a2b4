internal import COpenBLAS

// Factorisations that describe a matrix: SVD, eigendecompositions, Cholesky. Each copies its input, because
// LAPACK overwrites the matrix it is given.

// MARK: Singular value decomposition

/// Economy SVD A = U·diag(s)·Vt via `dgesdd` (divide and conquer), with U m × k, Vt k × n, k = min(m, n),
/// and singular values descending.
///
/// If `dgesdd` fails to converge, which it can on some ill-conditioned inputs, the slower QR-iteration driver
/// `dgesvd` is tried before throwing `didNotConverge`.
public func svd(_ A: Matrix) throws -> (U: Matrix, singularValues: [Double], Vt: Matrix) {
    let operation = "svd (LAPACKE_dgesdd)"
    let m = A.rows, n = A.columns, k = min(m, n)
    if k == 0 { return (Matrix(rows: m, columns: 0), [], Matrix(rows: 0, columns: n)) }
    let m32 = try blasSize(m, operation), n32 = try blasSize(n, operation)
    let lda = try leadingDimension(n, operation), ldu = try leadingDimension(k, operation)
    var s = [Double](repeating: 0, count: k)
    var U = Matrix(rows: m, columns: k)
    var Vt = Matrix(rows: k, columns: n)

    func run(_ driver: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>,
                        UnsafeMutablePointer<Double>) -> Int32) -> Int32 {
        var a = A.elements
        return a.withUnsafeMutableBufferPointer { a in
            s.withUnsafeMutableBufferPointer { s in
                U.elements.withUnsafeMutableBufferPointer { u in
                    Vt.elements.withUnsafeMutableBufferPointer { vt in
                        driver(a.baseAddress!, s.baseAddress!, u.baseAddress!, vt.baseAddress!)
                    }
                }
            }
        }
    }

    let info = run { a, s, u, vt in
        LAPACKE_dgesdd(rowMajorLAPACK, lapackChar("S"), m32, n32, a, lda, s, u, ldu, vt, lda)
    }
    if info > 0 {
        var superb = [Double](repeating: 0, count: max(1, k - 1))
        let fallbackInfo = superb.withUnsafeMutableBufferPointer { superb in
            run { a, s, u, vt in
                LAPACKE_dgesvd(rowMajorLAPACK, lapackChar("S"), lapackChar("S"), m32, n32, a, lda, s, u, ldu,
                               vt, lda, superb.baseAddress!)
            }
        }
        try checkLAPACK(fallbackInfo, "svd (LAPACKE_dgesvd)") { _ in .didNotConverge(operation: operation) }
    } else {
        try checkLAPACK(info, operation) { _ in .didNotConverge(operation: operation) }
    }
    return (U, s, Vt)
}

/// Singular values only, descending, via `dgesdd` with `jobz = 'N'`; cheaper than `svd` when U and V are unused
/// (e.g. condition numbers, effective rank).
public func singularValues(_ A: Matrix) throws -> [Double] {
    let operation = "singularValues (LAPACKE_dgesdd)"
    let m = A.rows, n = A.columns, k = min(m, n)
    if k == 0 { return [] }
    let m32 = try blasSize(m, operation), n32 = try blasSize(n, operation)
    let lda = try leadingDimension(n, operation)
    var a = A.elements
    var s = [Double](repeating: 0, count: k)
    var unused = [Double](repeating: 0, count: 1)
    let info = a.withUnsafeMutableBufferPointer { a in
        s.withUnsafeMutableBufferPointer { s in
            unused.withUnsafeMutableBufferPointer { unused in
                // Row-major LAPACKE_dgesdd checks ldvt ≥ n even when Vt is not computed.
                LAPACKE_dgesdd(rowMajorLAPACK, lapackChar("N"), m32, n32, a.baseAddress, lda, s.baseAddress,
                               unused.baseAddress, 1, unused.baseAddress, lda)
            }
        }
    }
    try checkLAPACK(info, operation) { _ in .didNotConverge(operation: operation) }
    return s
}

// MARK: Eigendecompositions

/// Eigenvalues (ascending) and orthonormal eigenvectors (the columns of `vectors`) of a symmetric matrix,
/// via `dsyevd` (divide and conquer), e.g. for PCA of a covariance matrix.
///
/// Throws `notSymmetric` rather than silently using one triangle of an asymmetric input.
public func symmetricEigen(_ A: Matrix) throws -> (values: [Double], vectors: Matrix) {
    let operation = "symmetricEigen (LAPACKE_dsyevd)"
    try requireSymmetric(A, operation)
    let n = A.rows
    if n == 0 { return ([], Matrix(rows: 0, columns: 0)) }
    let n32 = try blasSize(n, operation), lda = try leadingDimension(n, operation)
    var vectors = A
    var values = [Double](repeating: 0, count: n)
    let info = vectors.elements.withUnsafeMutableBufferPointer { a in
        values.withUnsafeMutableBufferPointer { w in
            LAPACKE_dsyevd(rowMajorLAPACK, lapackChar("V"), lapackChar("U"), n32, a.baseAddress, lda, w.baseAddress)
        }
    }
    try checkLAPACK(info, operation) { _ in .didNotConverge(operation: operation) }
    return (values, vectors)
}

/// Eigenvalues of a general square matrix via `dgeev`, as real and imaginary parts in LAPACK's order
/// (complex conjugate pairs adjacent, positive imaginary part first). Use for dynamics matrices, e.g. the
/// rotational structure found by jPCA.
public func eigenvalues(_ A: Matrix) throws -> (real: [Double], imaginary: [Double]) {
    let result = try generalEigen(A, wantVectors: false)
    return (result.real, result.imaginary)
}

/// Eigenvalues and right eigenvectors of a general square matrix via `dgeev`.
///
/// Vectors use LAPACK's packed real form, each normalised to unit Euclidean norm: a real eigenvalue j has
/// eigenvector `vectors.column(j)`; a complex pair j, j+1 (`imaginary[j] > 0`) has eigenvectors
/// `column(j) ± i·column(j + 1)`.
public func eigen(_ A: Matrix) throws -> (real: [Double], imaginary: [Double], vectors: Matrix) {
    try generalEigen(A, wantVectors: true)
}

private func generalEigen(_ A: Matrix, wantVectors: Bool) throws
    -> (real: [Double], imaginary: [Double], vectors: Matrix) {
    let operation = "eigen (LAPACKE_dgeev)"
    try requireSquare(A, operation)
    let n = A.rows
    if n == 0 { return ([], [], Matrix(rows: 0, columns: 0)) }
    let n32 = try blasSize(n, operation), lda = try leadingDimension(n, operation)
    var a = A.elements
    var real = [Double](repeating: 0, count: n)
    var imaginary = [Double](repeating: 0, count: n)
    var vectors = Matrix(rows: wantVectors ? n : 1, columns: wantVectors ? n : 1)
    var unusedLeft = [Double](repeating: 0, count: 1)
    let info = a.withUnsafeMutableBufferPointer { a in
        real.withUnsafeMutableBufferPointer { wr in
            imaginary.withUnsafeMutableBufferPointer { wi in
                unusedLeft.withUnsafeMutableBufferPointer { vl in
                    vectors.elements.withUnsafeMutableBufferPointer { vr in
                        LAPACKE_dgeev(rowMajorLAPACK, lapackChar("N"), lapackChar(wantVectors ? "V" : "N"), n32,
                                      a.baseAddress, lda, wr.baseAddress, wi.baseAddress, vl.baseAddress, 1,
                                      vr.baseAddress, wantVectors ? lda : 1)
                    }
                }
            }
        }
    }
    try checkLAPACK(info, operation) { _ in .didNotConverge(operation: operation) }
    return (real, imaginary, wantVectors ? vectors : Matrix(rows: 0, columns: 0))
}

// MARK: Cholesky

/// The lower-triangular L with A = L·Lᵀ, zero above the diagonal, via `dpotrf`.
///
/// Throws `notPositiveDefinite(minorOrder:)` naming the first leading minor that failed, and `notSymmetric`
/// for asymmetric input (`dpotrf` would read only the lower triangle).
public func cholesky(_ A: Matrix) throws -> Matrix {
    let operation = "cholesky (LAPACKE_dpotrf)"
    try requireSymmetric(A, operation)
    let n = A.rows
    if n == 0 { return A }
    let n32 = try blasSize(n, operation), lda = try leadingDimension(n, operation)
    var L = A
    let info = L.elements.withUnsafeMutableBufferPointer { a in
        LAPACKE_dpotrf(rowMajorLAPACK, lapackChar("L"), n32, a.baseAddress, lda)
    }
    try checkLAPACK(info, operation) { .notPositiveDefinite(minorOrder: $0) }
    for i in 0..<n {
        for j in (i + 1)..<n { L.elements[i * n + j] = 0 }
    }
    return L
}

// MARK: QR

/// An orthonormal basis of the column space of A (m × n, m ≥ n): the thin Q of A = Q·R, m × n, via
/// `dgeqrf` + `dorgqr` (Householder, so Q stays orthonormal to rounding even when A is nearly rank-deficient,
/// which is what the power iterations of a randomized SVD produce).
public func orthonormalBasis(_ A: Matrix) throws -> Matrix {
    let operation = "orthonormalBasis (LAPACKE_dgeqrf/dorgqr)"
    let m = A.rows, n = A.columns
    guard m >= n else {
        throw LinearAlgebraError.dimensionMismatch("\(operation) needs at least as many rows as columns, got \(m) × \(n)")
    }
    if n == 0 { return A }
    let m32 = try blasSize(m, operation), n32 = try blasSize(n, operation), lda = try leadingDimension(n, operation)
    var Q = A
    var tau = [Double](repeating: 0, count: n)
    let info = Q.elements.withUnsafeMutableBufferPointer { q in
        tau.withUnsafeMutableBufferPointer { tau in
            let factored = LAPACKE_dgeqrf(rowMajorLAPACK, m32, n32, q.baseAddress, lda, tau.baseAddress)
            if factored != 0 { return factored }
            return LAPACKE_dorgqr(rowMajorLAPACK, m32, n32, n32, q.baseAddress, lda, tau.baseAddress)
        }
    }
    try checkLAPACK(info, operation) { _ in .didNotConverge(operation: operation) }
    return Q
}
