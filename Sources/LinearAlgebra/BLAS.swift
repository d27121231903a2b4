internal import COpenBLAS

// BLAS levels 1–3 over Swift arrays and `Matrix`, all row-major Float64 (`cblas_d*` with `CblasRowMajor`).

// MARK: Level 1

/// xᵀy via `cblas_ddot`. Vectors of any length are accepted; lengths above `Int32.max` are summed in chunks.
public func dot(_ x: [Double], _ y: [Double]) -> Double {
    precondition(x.count == y.count, "dot: vectors of length \(x.count) and \(y.count)")
    var sum = 0.0
    x.withUnsafeBufferPointer { x in
        y.withUnsafeBufferPointer { y in
            forEachBLASChunk(x.count) { offset, length in
                sum += cblas_ddot(length, x.baseAddress! + offset, 1, y.baseAddress! + offset, 1)
            }
        }
    }
    return sum
}

/// Euclidean norm ‖x‖₂ via `cblas_dnrm2`, which scales internally so squares of large entries do not overflow.
public func norm2(_ x: [Double]) -> Double {
    var norm = 0.0
    x.withUnsafeBufferPointer { x in
        forEachBLASChunk(x.count) { offset, length in
            let part = cblas_dnrm2(length, x.baseAddress! + offset, 1)
            let larger = max(norm, part), smaller = min(norm, part)
            norm = larger == 0 ? 0 : larger * (1 + (smaller / larger) * (smaller / larger)).squareRoot()
        }
    }
    return norm
}

/// y ← αx + y via `cblas_daxpy`.
public func axpy(alpha: Double, x: [Double], y: inout [Double]) {
    precondition(x.count == y.count, "axpy: vectors of length \(x.count) and \(y.count)")
    x.withUnsafeBufferPointer { x in
        y.withUnsafeMutableBufferPointer { y in
            forEachBLASChunk(x.count) { offset, length in
                cblas_daxpy(length, alpha, x.baseAddress! + offset, 1, y.baseAddress! + offset, 1)
            }
        }
    }
}

/// x ← αx via `cblas_dscal`.
public func scale(_ x: inout [Double], by alpha: Double) {
    x.withUnsafeMutableBufferPointer { x in
        forEachBLASChunk(x.count) { offset, length in
            cblas_dscal(length, alpha, x.baseAddress! + offset, 1)
        }
    }
}

// MARK: Level 2

/// op(A)·x via `cblas_dgemv`, where op(A) is A or Aᵀ.
public func multiply(_ A: Matrix, _ x: [Double], transposeA: Bool = false) throws -> [Double] {
    var y = [Double](repeating: 0, count: transposeA ? A.columns : A.rows)
    try gemv(alpha: 1, A, transposeA: transposeA, x, beta: 0, into: &y)
    return y
}

/// y ← α·op(A)·x + β·y via `cblas_dgemv`; accumulates into `y` without allocating.
public func gemv(alpha: Double = 1, _ A: Matrix, transposeA: Bool = false, _ x: [Double],
                 beta: Double = 0, into y: inout [Double]) throws {
    let operation = "gemv (cblas_dgemv)"
    let inputLength = transposeA ? A.rows : A.columns
    let outputLength = transposeA ? A.columns : A.rows
    guard x.count == inputLength, y.count == outputLength else {
        throw LinearAlgebraError.dimensionMismatch(
            "\(operation): \(transposeA ? "Aᵀ" : "A") is \(outputLength) × \(inputLength), "
                + "x has \(x.count) elements, y has \(y.count)")
    }
    let m = try blasSize(A.rows, operation), n = try blasSize(A.columns, operation)
    let lda = try leadingDimension(A.columns, operation)
    if outputLength == 0 { return }
    if inputLength == 0 {
        // An empty sum: OpenBLAS returns before applying β when a dimension is zero, so apply it here.
        if beta == 0 { y = [Double](repeating: 0, count: outputLength) } else { scale(&y, by: beta) }
        return
    }
    A.elements.withUnsafeBufferPointer { a in
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                cblas_dgemv(CblasRowMajor, cblasTranspose(transposeA), m, n, alpha, a.baseAddress, lda,
                            x.baseAddress, 1, beta, y.baseAddress, 1)
            }
        }
    }
}

// MARK: Level 3

/// op(A)·op(B) via `cblas_dgemm`.
public func multiply(_ A: Matrix, _ B: Matrix, transposeA: Bool = false, transposeB: Bool = false) throws -> Matrix {
    var C = Matrix(rows: transposeA ? A.columns : A.rows, columns: transposeB ? B.rows : B.columns)
    try gemm(alpha: 1, A, transposeA: transposeA, B, transposeB: transposeB, beta: 0, into: &C)
    return C
}

/// C ← α·op(A)·op(B) + β·C via `cblas_dgemm`; accumulates into an existing C (e.g. summing over trials).
public func gemm(alpha: Double = 1, _ A: Matrix, transposeA: Bool = false, _ B: Matrix, transposeB: Bool = false,
                 beta: Double = 0, into C: inout Matrix) throws {
    let (m, k) = transposeA ? (A.columns, A.rows) : (A.rows, A.columns)
    let (kB, n) = transposeB ? (B.columns, B.rows) : (B.rows, B.columns)
    guard k == kB, C.rows == m, C.columns == n else {
        throw LinearAlgebraError.dimensionMismatch(
            "gemm (cblas_dgemm): \(transposeA ? "Aᵀ" : "A") is \(m) × \(k), \(transposeB ? "Bᵀ" : "B") is "
                + "\(kB) × \(n), C is \(C.rows) × \(C.columns)")
    }
    if m == 0 || n == 0 { return }
    if k == 0 {
        // op(A)·op(B) is an empty sum; BLAS would get no A or B storage to point at, so apply β here.
        if beta == 0 {
            C.elements = [Double](repeating: 0, count: m * n)
        } else {
            scale(&C.elements, by: beta)
        }
        return
    }
    try A.elements.withUnsafeBufferPointer { a in
        try B.elements.withUnsafeBufferPointer { b in
            try C.elements.withUnsafeMutableBufferPointer { c in
                try gemm(transposeA: transposeA, transposeB: transposeB, rows: m, columns: n, inner: k,
                         alpha: alpha, a.baseAddress!, leadingDimensionA: A.columns,
                         b.baseAddress!, leadingDimensionB: B.columns,
                         beta: beta, c.baseAddress!, leadingDimensionC: n)
            }
        }
    }
}

/// C ← α·op(A)·op(B) + β·C on raw row-major buffers via `cblas_dgemm`, for blocks of large buffers
/// (e.g. a window of time bins inside a units × time recording) without copying them into a `Matrix`.
///
/// op(A) is `rows` × `inner`, op(B) is `inner` × `columns`, C is `rows` × `columns`. Element (i, j) of a stored
/// operand is at `pointer[i * leadingDimension + j]`, so a leading dimension larger than the stored column count
/// selects a column block. The caller guarantees the buffers cover every addressed element.
public func gemm(transposeA: Bool, transposeB: Bool, rows m: Int, columns n: Int, inner k: Int,
                 alpha: Double,
                 _ A: UnsafePointer<Double>, leadingDimensionA lda: Int,
                 _ B: UnsafePointer<Double>, leadingDimensionB ldb: Int,
                 beta: Double,
                 _ C: UnsafeMutablePointer<Double>, leadingDimensionC ldc: Int) throws {
    let operation = "gemm (cblas_dgemm)"
    guard m >= 0, n >= 0, k >= 0 else {
        throw LinearAlgebraError.dimensionMismatch("\(operation): negative size \(m) × \(k) · \(k) × \(n)")
    }
    let storedColumnsA = transposeA ? m : k
    let storedColumnsB = transposeB ? k : n
    guard lda >= max(1, storedColumnsA), ldb >= max(1, storedColumnsB), ldc >= max(1, n) else {
        throw LinearAlgebraError.dimensionMismatch(
            "\(operation): leading dimensions (A \(lda), B \(ldb), C \(ldc)) must be at least the stored column "
                + "counts (A \(storedColumnsA), B \(storedColumnsB), C \(n))")
    }
    let m32 = try blasSize(m, operation), n32 = try blasSize(n, operation), k32 = try blasSize(k, operation)
    let lda32 = try blasSize(lda, operation), ldb32 = try blasSize(ldb, operation)
    let ldc32 = try blasSize(ldc, operation)
    if m == 0 || n == 0 { return }
    cblas_dgemm(CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB), m32, n32, k32,
                alpha, A, lda32, B, ldb32, beta, C, ldc32)
}

/// The Gram matrix op(A)·op(A)ᵀ via `cblas_dsyrk`, with both triangles filled.
///
/// `transpose: false` gives A·Aᵀ (rows × rows, e.g. unit-by-unit inner products of a units × time matrix);
/// `transpose: true` gives Aᵀ·A (columns × columns). SYRK does half the work of GEMM and the result is
/// exactly symmetric, which `symmetricEigen` and `cholesky` require.
public func gram(_ A: Matrix, transpose: Bool) throws -> Matrix {
    let operation = "gram (cblas_dsyrk)"
    let (n, k) = transpose ? (A.columns, A.rows) : (A.rows, A.columns)
    var C = Matrix(rows: n, columns: n)
    let n32 = try blasSize(n, operation), k32 = try blasSize(k, operation)
    let lda = try leadingDimension(A.columns, operation), ldc = try leadingDimension(n, operation)
    if n == 0 || k == 0 { return C }
    A.elements.withUnsafeBufferPointer { a in
        C.elements.withUnsafeMutableBufferPointer { c in
            cblas_dsyrk(CblasRowMajor, CblasUpper, cblasTranspose(transpose), n32, k32, 1, a.baseAddress, lda,
                        0, c.baseAddress, ldc)
            for i in 0..<n {
                for j in 0..<i { c[i * n + j] = c[j * n + i] }
            }
        }
    }
    return C
}
