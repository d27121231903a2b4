internal import COpenBLAS

/// The element types BLAS computes in, so that a hot loop can be written once for Float64 and Float32
/// (`--precision single` halves memory traffic, which bounds most of nfx's iterations).
///
/// The operations take raw row-major buffers, like `gemm(transposeA:…)` for Double; sizes are checked and
/// narrowed to BLAS' 32-bit integers by the caller-facing wrappers below.
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    static func cblasGemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int32, _ n: Int32,
                          _ k: Int32, _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int32,
                          _ b: UnsafePointer<Self>, _ ldb: Int32, _ beta: Self, _ c: UnsafeMutablePointer<Self>,
                          _ ldc: Int32)
    static func cblasSyrk(_ transpose: Bool, _ n: Int32, _ k: Int32, _ a: UnsafePointer<Self>,
                          _ lda: Int32, _ c: UnsafeMutablePointer<Self>, _ ldc: Int32)
    static func cblasGemv(_ transpose: Bool, _ m: Int32, _ n: Int32, _ alpha: Self,
                          _ a: UnsafePointer<Self>, _ lda: Int32, _ x: UnsafePointer<Self>, _ beta: Self,
                          _ y: UnsafeMutablePointer<Self>)
}

extension Double: BLASScalar {
    public static func cblasGemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int32,
                                 _ n: Int32, _ k: Int32, _ alpha: Double, _ a: UnsafePointer<Double>, _ lda: Int32,
                                 _ b: UnsafePointer<Double>, _ ldb: Int32, _ beta: Double,
                                 _ c: UnsafeMutablePointer<Double>, _ ldc: Int32) {
        cblas_dgemm(CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    public static func cblasSyrk(_ transpose: Bool, _ n: Int32, _ k: Int32, _ a: UnsafePointer<Double>,
                                 _ lda: Int32, _ c: UnsafeMutablePointer<Double>, _ ldc: Int32) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, cblasTranspose(transpose), n, k, 1, a, lda, 0, c, ldc)
    }
    public static func cblasGemv(_ transpose: Bool, _ m: Int32, _ n: Int32, _ alpha: Double,
                                 _ a: UnsafePointer<Double>, _ lda: Int32, _ x: UnsafePointer<Double>,
                                 _ beta: Double, _ y: UnsafeMutablePointer<Double>) {
        cblas_dgemv(CblasRowMajor, cblasTranspose(transpose), m, n, alpha, a, lda, x, 1, beta, y, 1)
    }
}

extension Float: BLASScalar {
    public static func cblasGemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int32,
                                 _ n: Int32, _ k: Int32, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int32,
                                 _ b: UnsafePointer<Float>, _ ldb: Int32, _ beta: Float,
                                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int32) {
        cblas_sgemm(CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    public static func cblasSyrk(_ transpose: Bool, _ n: Int32, _ k: Int32, _ a: UnsafePointer<Float>,
                                 _ lda: Int32, _ c: UnsafeMutablePointer<Float>, _ ldc: Int32) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, cblasTranspose(transpose), n, k, 1, a, lda, 0, c, ldc)
    }
    public static func cblasGemv(_ transpose: Bool, _ m: Int32, _ n: Int32, _ alpha: Float,
                                 _ a: UnsafePointer<Float>, _ lda: Int32, _ x: UnsafePointer<Float>,
                                 _ beta: Float, _ y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, cblasTranspose(transpose), m, n, alpha, a, lda, x, 1, beta, y, 1)
    }
}

/// Generic BLAS on raw row-major buffers, for loops written once over `BLASScalar`.
public enum GenericBLAS {
    /// C ← α·op(A)·op(B) + β·C; op(A) is m × k, op(B) k × n, C m × n; `ld*` are the stored row lengths.
    @inline(__always)
    public static func gemm<T: BLASScalar>(transposeA: Bool, transposeB: Bool, rows m: Int, columns n: Int,
                                           inner k: Int, alpha: T = 1, _ A: UnsafePointer<T>, _ lda: Int,
                                           _ B: UnsafePointer<T>, _ ldb: Int, beta: T = 0,
                                           _ C: UnsafeMutablePointer<T>, _ ldc: Int) throws {
        let operation = "gemm (cblas_?gemm)"
        let sizes = try [m, n, k, lda, ldb, ldc].map { try blasSize($0, operation) }
        if m == 0 || n == 0 { return }
        if k == 0 {
            for index in 0..<m { for column in 0..<n { C[index * ldc + column] *= beta } }
            return
        }
        T.cblasGemm(transposeA, transposeB, sizes[0], sizes[1], sizes[2], alpha,
                    A, sizes[3], B, sizes[4], beta, C, sizes[5])
    }

    /// The n × n Gram matrix op(A)·op(A)ᵀ with both triangles filled: `transpose: false` gives A·Aᵀ for A n × k,
    /// `true` gives Aᵀ·A for A k × n. SYRK does half of GEMM's work and the result is exactly symmetric.
    public static func gram<T: BLASScalar>(transpose: Bool, size n: Int, inner k: Int, _ A: UnsafePointer<T>,
                                           _ lda: Int, into C: UnsafeMutablePointer<T>) throws {
        let operation = "gram (cblas_?syrk)"
        let n32 = try blasSize(n, operation), k32 = try blasSize(k, operation)
        let lda32 = try blasSize(max(1, lda), operation), ldc32 = try blasSize(max(1, n), operation)
        if n == 0 { return }
        if k == 0 {
            C.update(repeating: 0, count: n * n)
            return
        }
        T.cblasSyrk(transpose, n32, k32, A, lda32, C, ldc32)
        for i in 0..<n {
            for j in 0..<i { C[i * n + j] = C[j * n + i] }
        }
    }

    /// y ← α·op(A)·x + β·y for A stored m × n.
    @inline(__always)
    public static func gemv<T: BLASScalar>(transpose: Bool, rows m: Int, columns n: Int, alpha: T = 1,
                                           _ A: UnsafePointer<T>, _ lda: Int, _ x: UnsafePointer<T>, beta: T = 0,
                                           _ y: UnsafeMutablePointer<T>) throws {
        let operation = "gemv (cblas_?gemv)"
        let m32 = try blasSize(m, operation), n32 = try blasSize(n, operation)
        let lda32 = try blasSize(max(1, lda), operation)
        if m == 0 || n == 0 {
            let length = transpose ? n : m
            for index in 0..<length { y[index] *= beta }
            return
        }
        T.cblasGemv(transpose, m32, n32, alpha, A, lda32, x, beta, y)
    }
}
