internal import COpenBLAS

// Conversions and checks shared by the BLAS and LAPACK wrappers. CBLAS (`blasint`) and LAPACKE (`lapack_int`)
// take 32-bit sizes in Debian's OpenBLAS, so every size is checked before it is narrowed.

let rowMajorLAPACK = Int32(LAPACK_ROW_MAJOR)

@inline(__always)
func blasSize(_ value: Int, _ operation: String) throws -> Int32 {
    guard value <= Int(Int32.max) else {
        throw LinearAlgebraError.tooLargeForBLAS(operation: operation, dimension: value)
    }
    return Int32(value)
}

/// Row-major leading dimension of a matrix with `columns` columns; LAPACKE rejects 0 even for empty matrices.
@inline(__always)
func leadingDimension(_ columns: Int, _ operation: String) throws -> Int32 {
    try blasSize(max(1, columns), operation)
}

@inline(__always)
func cblasTranspose(_ transpose: Bool) -> CBLAS_TRANSPOSE {
    transpose ? CblasTrans : CblasNoTrans
}

@inline(__always)
func lapackChar(_ character: Unicode.Scalar) -> CChar {
    CChar(UInt8(ascii: character))
}

/// Maps a LAPACKE `info`: negative values are argument errors, positive ones are routine-specific.
func checkLAPACK(_ info: Int32, _ operation: String,
                 positive: (Int) -> LinearAlgebraError) throws {
    if info < 0 { throw LinearAlgebraError.invalidArgument(operation: operation, info: Int(info)) }
    if info > 0 { throw positive(Int(info)) }
}

/// Routines that read one triangle (`dsyevd`, `dpotrf`, `dposv`) would silently use a different matrix if given
/// an asymmetric one. The tolerance is relative to the largest entry so rounding from forming AᵀA by GEMM passes.
func requireSymmetric(_ A: Matrix, _ operation: String) throws {
    guard A.isSquare else {
        throw LinearAlgebraError.dimensionMismatch("\(operation) needs a square matrix, got \(A.rows) × \(A.columns)")
    }
    let n = A.rows
    var scale = 0.0
    for value in A.elements { scale = max(scale, abs(value)) }
    let tolerance = 1e-8 * scale
    for i in 0..<n {
        for j in (i + 1)..<n where !(abs(A.elements[i * n + j] - A.elements[j * n + i]) <= tolerance) {
            if A.elements[i * n + j].isNaN || A.elements[j * n + i].isNaN { continue }
            throw LinearAlgebraError.notSymmetric(operation: operation)
        }
    }
}

func requireSquare(_ A: Matrix, _ operation: String) throws {
    guard A.isSquare else {
        throw LinearAlgebraError.dimensionMismatch("\(operation) needs a square matrix, got \(A.rows) × \(A.columns)")
    }
}

/// The right-hand side of A·X = B must have as many rows as A.
func requireMatchingRows(_ A: Matrix, _ B: Matrix, _ operation: String) throws {
    guard B.rows == A.rows else {
        throw LinearAlgebraError.dimensionMismatch(
            "\(operation): A is \(A.rows) × \(A.columns) but B has \(B.rows) rows")
    }
}

/// Level-1 BLAS takes a 32-bit length; longer vectors are processed in chunks so callers never see a size limit.
@inline(__always)
func forEachBLASChunk(_ count: Int, _ body: (_ offset: Int, _ length: Int32) -> Void) {
    let chunk = Int(Int32.max)
    var offset = 0
    while offset < count {
        let length = min(chunk, count - offset)
        body(offset, Int32(length))
        offset += length
    }
}
