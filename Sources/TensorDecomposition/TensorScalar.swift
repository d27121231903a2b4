import Factorization

/// The precisions CP runs in. As with `FactorizationScalar`, the public generic entry points call these
/// requirements once per fit and each conformance calls the generic body with a concrete type, so the hot loops
/// are specialised inside this module instead of running through witness tables.
public protocol TensorScalar: FactorizationScalar {
    static func cpDecomposition(_ data: inout [Self], shape: [Int], options: CPOptions,
                                progress: ((CPProgress) -> Void)?) throws -> CPResult
    static func cpEnsemble(_ data: inout [Self], shape: [Int], method: CPOptions, options: CPEnsembleOptions,
                           progress: ((String) -> Void)?) throws -> CPEnsemble
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
}
