internal import COpenBLAS
internal import Foundation

// Linear systems, least squares, inverse and determinant. Right-hand sides are matrices with one column per
// system, so several regressions against the same design matrix share one factorisation.

// MARK: LU-based (square, general)

/// An LU factorisation P·A = L·U from `dgetrf`, kept row-major for the `dgetrs`/`dgecon`/`dgetri` calls after it.
private struct LUFactors {
    var lu: [Double]
    var pivots: [Int32]
    let order: Int
    let order32: Int32
    let leadingDimension: Int32
    /// `dgetrf` reports `info > 0` when a pivot is exactly zero; the factors are still complete.
    let hasZeroPivot: Bool
}

private func factorLU(_ A: Matrix, _ operation: String) throws -> LUFactors {
    try requireSquare(A, operation)
    let n = A.rows
    let n32 = try blasSize(n, operation), lda = try leadingDimension(n, operation)
    var lu = A.elements
    var pivots = [Int32](repeating: 0, count: n)
    let info = n == 0 ? 0 : lu.withUnsafeMutableBufferPointer { a in
        pivots.withUnsafeMutableBufferPointer { ipiv in
            LAPACKE_dgetrf(rowMajorLAPACK, n32, n32, a.baseAddress, lda, ipiv.baseAddress)
        }
    }
    if info < 0 { throw LinearAlgebraError.invalidArgument(operation: operation, info: Int(info)) }
    return LUFactors(lu: lu, pivots: pivots, order: n, order32: n32, leadingDimension: lda, hasZeroPivot: info > 0)
}

/// Throws `singular` when the LU factors are exactly singular or the 1-norm reciprocal condition number
/// (`dgecon`, given ‖A‖₁ from `dlange`) is below machine epsilon, where a solution would be mostly rounding
/// error. `dgesv` alone only catches exact zero pivots.
private func requireWellConditioned(_ factors: LUFactors, _ A: Matrix, _ operation: String) throws {
    if factors.order == 0 { return }
    if factors.hasZeroPivot { throw LinearAlgebraError.singular(operation: operation) }
    let anorm = A.elements.withUnsafeBufferPointer { a in
        LAPACKE_dlange(rowMajorLAPACK, lapackChar("1"), factors.order32, factors.order32, a.baseAddress,
                       factors.leadingDimension)
    }
    var rcond = 0.0
    let info = factors.lu.withUnsafeBufferPointer { lu in
        LAPACKE_dgecon(rowMajorLAPACK, lapackChar("1"), factors.order32, lu.baseAddress, factors.leadingDimension,
                       anorm, &rcond)
    }
    try checkLAPACK(info, operation) { _ in .singular(operation: operation) }
    if !(rcond >= Double.ulpOfOne) { throw LinearAlgebraError.singular(operation: operation) }
}

/// X with A·X = B for square A, via `dgetrf` + `dgetrs` (the two halves of `dgesv`) with a `dgecon`
/// condition check between them.
///
/// Throws `singular` if A is singular to working precision; `leastSquares` gives the minimum-norm solution then.
public func solve(_ A: Matrix, _ B: Matrix) throws -> Matrix {
    let operation = "solve (LAPACKE_dgesv)"
    try requireSquare(A, operation)
    try requireMatchingRows(A, B, operation)
    let factors = try factorLU(A, operation)
    try requireWellConditioned(factors, A, operation)
    var X = B
    if A.rows == 0 || B.columns == 0 { return X }
    let nrhs = try blasSize(B.columns, operation), ldb = try leadingDimension(B.columns, operation)
    let info = factors.lu.withUnsafeBufferPointer { lu in
        factors.pivots.withUnsafeBufferPointer { ipiv in
            X.elements.withUnsafeMutableBufferPointer { b in
                LAPACKE_dgetrs(rowMajorLAPACK, lapackChar("N"), factors.order32, nrhs, lu.baseAddress,
                               factors.leadingDimension, ipiv.baseAddress, b.baseAddress, ldb)
            }
        }
    }
    try checkLAPACK(info, operation) { _ in .singular(operation: operation) }
    return X
}

/// x with A·x = b for square A; see `solve(_:_:)` for matrices.
public func solve(_ A: Matrix, _ b: [Double]) throws -> [Double] {
    try solve(A, Matrix(rows: b.count, columns: 1, elements: b)).elements
}

/// A⁻¹ via `dgetrf` + `dgetri`, throwing `singular` if A is singular to working precision.
///
/// Prefer `solve` for A⁻¹·B: it is cheaper and more accurate than forming the inverse.
public func inverse(_ A: Matrix) throws -> Matrix {
    let operation = "inverse (LAPACKE_dgetri)"
    var factors = try factorLU(A, operation)
    try requireWellConditioned(factors, A, operation)
    if factors.order == 0 { return A }
    let pivots = factors.pivots
    let info = factors.lu.withUnsafeMutableBufferPointer { a in
        pivots.withUnsafeBufferPointer { ipiv in
            LAPACKE_dgetri(rowMajorLAPACK, factors.order32, a.baseAddress, factors.leadingDimension, ipiv.baseAddress)
        }
    }
    try checkLAPACK(info, operation) { _ in .singular(operation: operation) }
    return Matrix(rows: factors.order, columns: factors.order, elements: factors.lu)
}

/// det(A) from the `dgetrf` factors: the product of U's diagonal with the sign of the row permutation.
/// Returns 0 for an exactly singular matrix. Over- or underflows for large matrices; use `logDeterminant` there.
public func determinant(_ A: Matrix) throws -> Double {
    let factors = try factorLU(A, "determinant (LAPACKE_dgetrf)")
    if factors.hasZeroPivot { return 0 }
    var result = 1.0
    for i in 0..<factors.order {
        result *= factors.lu[i * factors.order + i]
        if factors.pivots[i] != Int32(i + 1) { result = -result }
    }
    return result
}

/// sign(det A) and log|det A| from the `dgetrf` factors, which stay finite where `determinant` overflows
/// (e.g. Gaussian log-likelihoods of large covariance matrices). A singular matrix gives (0, −∞).
public func logDeterminant(_ A: Matrix) throws -> (sign: Double, logAbsoluteValue: Double) {
    let factors = try factorLU(A, "logDeterminant (LAPACKE_dgetrf)")
    if factors.hasZeroPivot { return (0, -.infinity) }
    var sign = 1.0
    var logAbs = 0.0
    for i in 0..<factors.order {
        let pivot = factors.lu[i * factors.order + i]
        if pivot < 0 { sign = -sign }
        if factors.pivots[i] != Int32(i + 1) { sign = -sign }
        logAbs += log(abs(pivot))
    }
    return (sign, logAbs)
}

// MARK: Symmetric positive definite

/// X with A·X = B for symmetric positive definite A (covariance, Gram and kernel matrices) via `dposv`
/// (Cholesky), about twice as fast as `solve`.
///
/// Throws `notPositiveDefinite(minorOrder:)` if the Cholesky factorisation fails, and `notSymmetric` for an
/// asymmetric A, since `dposv` reads only one triangle.
public func solveSymmetricPositiveDefinite(_ A: Matrix, _ B: Matrix) throws -> Matrix {
    let operation = "solveSymmetricPositiveDefinite (LAPACKE_dposv)"
    try requireSymmetric(A, operation)
    try requireMatchingRows(A, B, operation)
    let n = A.rows
    var X = B
    if n == 0 || B.columns == 0 { return X }
    let n32 = try blasSize(n, operation), lda = try leadingDimension(n, operation)
    let nrhs = try blasSize(B.columns, operation), ldb = try leadingDimension(B.columns, operation)
    var a = A.elements
    let info = a.withUnsafeMutableBufferPointer { a in
        X.elements.withUnsafeMutableBufferPointer { b in
            LAPACKE_dposv(rowMajorLAPACK, lapackChar("L"), n32, nrhs, a.baseAddress, lda, b.baseAddress, ldb)
        }
    }
    try checkLAPACK(info, operation) { .notPositiveDefinite(minorOrder: $0) }
    return X
}

// MARK: Least squares

/// The minimum-norm X minimising ‖A·X − B‖_F via `dgelsd` (SVD-based), for over-, under-determined and
/// rank-deficient A. A is m × n, B is m × r, X is n × r.
///
/// Singular values below `machine epsilon × max(m, n) × σ_max` are treated as zero (NumPy's `lstsq` default),
/// so collinear regressors give a stable answer instead of huge cancelling coefficients.
public func leastSquares(_ A: Matrix, _ B: Matrix) throws -> Matrix {
    let operation = "leastSquares (LAPACKE_dgelsd)"
    try requireMatchingRows(A, B, operation)
    let m = A.rows, n = A.columns, r = B.columns
    if m == 0 || n == 0 || r == 0 { return Matrix(rows: n, columns: r) }
    let m32 = try blasSize(m, operation), n32 = try blasSize(n, operation), r32 = try blasSize(r, operation)
    let lda = try leadingDimension(n, operation), ldb = try leadingDimension(r, operation)
    let bRows = max(m, n)
    var a = A.elements
    var b = B.elements + [Double](repeating: 0, count: (bRows - m) * r)
    var s = [Double](repeating: 0, count: min(m, n))
    var rank: Int32 = 0
    let rcond = Double.ulpOfOne * Double(max(m, n))
    let info = a.withUnsafeMutableBufferPointer { a in
        b.withUnsafeMutableBufferPointer { b in
            s.withUnsafeMutableBufferPointer { s in
                LAPACKE_dgelsd(rowMajorLAPACK, m32, n32, r32, a.baseAddress, lda, b.baseAddress, ldb,
                               s.baseAddress, rcond, &rank)
            }
        }
    }
    try checkLAPACK(info, operation) { _ in .didNotConverge(operation: operation) }
    return Matrix(rows: n, columns: r, elements: Array(b[0..<(n * r)]))
}
