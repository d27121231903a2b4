import CKernels
import Factorization

/// The precisions CP runs in. As with `FactorizationScalar`, the public generic entry points call these
/// requirements once per fit and each conformance calls the generic body with a concrete type, so the hot loops
/// are specialised inside this module instead of running through witness tables.
public protocol TensorScalar: FactorizationScalar {
    static func cpDecomposition(_ data: inout [Self], shape: [Int], options: CPOptions,
                                progress: ((CPProgress) -> Void)?) throws -> CPResult
    static func cpEnsemble(_ data: inout [Self], shape: [Int], method: CPOptions, options: CPEnsembleOptions,
                           progress: ((String) -> Void)?) throws -> CPEnsemble
    /// Y (rows × rank) = X (rows × columns) · W (columns × rank); see `nfx_times_small_d`.
    static func timesSmall(_ X: UnsafePointer<Self>, rows: Int, columns: Int, _ W: UnsafePointer<Self>,
                           rank: Int, into Y: UnsafeMutablePointer<Self>)
    /// M (columns × rank) += Xᵀ·(A ⊙ B) over rows first..<first+rows of the unfolding, X pointing at row `first`;
    /// see `nfx_transpose_times_khatri_rao_d`.
    static func transposeTimesKhatriRao(_ X: UnsafePointer<Self>, first: Int, rows: Int, columns: Int,
                                        _ A: UnsafePointer<Self>, _ B: UnsafePointer<Self>, rowsOfB: Int, rank: Int,
                                        into M: UnsafeMutablePointer<Self>)
}

extension Double: TensorScalar {
    public static func cpDecomposition(_ data: inout [Double], shape: [Int], options: CPOptions,
                                       progress: ((CPProgress) -> Void)?) throws -> CPResult {
        try CPDecomposition.fitInPrecision(&data, shape: shape, options: options, progress: progress)
    }
    public static func cpEnsemble(_ data: inout [Double], shape: [Int], method: CPOptions, options: CPEnsembleOptions,
                                  progress: ((String) -> Void)?) throws -> CPEnsemble {
        try CPEnsembleFitting.fitInPrecision(&data, shape: shape, method: method, options: options, progress: progress)
    }
    public static func timesSmall(_ X: UnsafePointer<Double>, rows: Int, columns: Int,
                                  _ W: UnsafePointer<Double>, rank: Int, into Y: UnsafeMutablePointer<Double>) {
        nfx_times_small_d(X, rows, columns, W, rank, Y)
    }
    public static func transposeTimesKhatriRao(_ X: UnsafePointer<Double>, first: Int, rows: Int, columns: Int,
                                               _ A: UnsafePointer<Double>, _ B: UnsafePointer<Double>, rowsOfB: Int,
                                               rank: Int, into M: UnsafeMutablePointer<Double>) {
        nfx_transpose_times_khatri_rao_d(X, first, rows, columns, A, B, rowsOfB, rank, M)
    }
}

extension Float: TensorScalar {
    public static func cpDecomposition(_ data: inout [Float], shape: [Int], options: CPOptions,
                                       progress: ((CPProgress) -> Void)?) throws -> CPResult {
        try CPDecomposition.fitInPrecision(&data, shape: shape, options: options, progress: progress)
    }
    public static func cpEnsemble(_ data: inout [Float], shape: [Int], method: CPOptions, options: CPEnsembleOptions,
                                  progress: ((String) -> Void)?) throws -> CPEnsemble {
        try CPEnsembleFitting.fitInPrecision(&data, shape: shape, method: method, options: options, progress: progress)
    }
    public static func timesSmall(_ X: UnsafePointer<Float>, rows: Int, columns: Int,
                                  _ W: UnsafePointer<Float>, rank: Int, into Y: UnsafeMutablePointer<Float>) {
        nfx_times_small_s(X, rows, columns, W, rank, Y)
    }
    public static func transposeTimesKhatriRao(_ X: UnsafePointer<Float>, first: Int, rows: Int, columns: Int,
                                               _ A: UnsafePointer<Float>, _ B: UnsafePointer<Float>, rowsOfB: Int,
                                               rank: Int, into M: UnsafeMutablePointer<Float>) {
        nfx_transpose_times_khatri_rao_s(X, first, rows, columns, A, B, rowsOfB, rank, M)
    }
}
