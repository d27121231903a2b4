import LinearAlgebra

/// The precisions the factorizations run in: Float64 and Float32.
///
/// Why a protocol with one static method per entry point: a generic function called from another module runs
/// unspecialised, with every element access through a witness table (measured: ~9 s of a 10,000 × 5,000 NMF
/// went to that). The public generic entry points call these requirements once per fit, and each conformance
/// calls the generic body with a concrete type, which the compiler specialises inside this module.
public protocol FactorizationScalar: BLASScalar {
    static func checkNonnegative(_ data: [Self]) throws
    static func nonnegativeFactorization(_ data: inout [Self], rows: Int, columns: Int, options: NMFOptions,
                                         progress: ((FactorizationProgress) -> Void)?) throws -> FactorizationResult
    static func principalComponents(_ data: inout [Self], rows: Int, columns: Int, options: PCAOptions,
                                    progress: ((FactorizationProgress) -> Void)?) throws -> PCAResult
    static func rankSweep(_ data: inout [Self], rows: Int, columns: Int, method: FactorizationMethod,
                          options: RankSweepOptions, progress: ((String) -> Void)?) throws -> RankSweepResult
    /// One non-negative HALS half-step on `factor` (rank × length, row-major) given the numerator (rank × length)
    /// and the partner's Gram matrix (rank × rank): see `FactorUpdate.hals`. Public for the tensor decompositions,
    /// whose factor updates are the same problem.
    static func halsUpdate(_ factor: inout [Self], numerator: [Self], gram: [Self], rank: Int, length: Int,
                           maxSweeps: Int, threads: Int)
}


extension Double: FactorizationScalar {
    public static func halsUpdate(_ factor: inout [Double], numerator: [Double], gram: [Double], rank: Int, length: Int,
                                  maxSweeps: Int, threads: Int) {
        FactorUpdate.hals(&factor, numerator: numerator, gram: gram, rank: rank, length: length, l1: 0, l2: 0,
                          maxSweeps: maxSweeps, threads: threads)
    }
    public static func checkNonnegative(_ data: [Double]) throws {
        try NonnegativeMatrixFactorization.checkNonnegativeValues(data)
    }
    public static func nonnegativeFactorization(_ data: inout [Double], rows: Int, columns: Int, options: NMFOptions,
                                                progress: ((FactorizationProgress) -> Void)?) throws
        -> FactorizationResult {
        try NonnegativeMatrixFactorization.fitInPrecision(&data, rows: rows, columns: columns, options: options,
                                                          progress: progress)
    }
    public static func principalComponents(_ data: inout [Double], rows: Int, columns: Int, options: PCAOptions,
                                           progress: ((FactorizationProgress) -> Void)?) throws -> PCAResult {
        try PrincipalComponents.fitInPrecision(&data, rows: rows, columns: columns, options: options,
                                               progress: progress)
    }
    public static func rankSweep(_ data: inout [Double], rows: Int, columns: Int, method: FactorizationMethod,
                                 options: RankSweepOptions, progress: ((String) -> Void)?) throws -> RankSweepResult {
        try RankSelection.sweepInPrecision(&data, rows: rows, columns: columns, method: method, options: options,
                                           progress: progress)
    }
}

extension Float: FactorizationScalar {
    public static func halsUpdate(_ factor: inout [Float], numerator: [Float], gram: [Float], rank: Int, length: Int,
                                  maxSweeps: Int, threads: Int) {
        FactorUpdate.hals(&factor, numerator: numerator, gram: gram, rank: rank, length: length, l1: 0, l2: 0,
                          maxSweeps: maxSweeps, threads: threads)
    }
    public static func checkNonnegative(_ data: [Float]) throws {
        try NonnegativeMatrixFactorization.checkNonnegativeValues(data)
    }
    public static func nonnegativeFactorization(_ data: inout [Float], rows: Int, columns: Int, options: NMFOptions,
                                                progress: ((FactorizationProgress) -> Void)?) throws
        -> FactorizationResult {
        try NonnegativeMatrixFactorization.fitInPrecision(&data, rows: rows, columns: columns, options: options,
                                                          progress: progress)
    }
    public static func principalComponents(_ data: inout [Float], rows: Int, columns: Int, options: PCAOptions,
                                           progress: ((FactorizationProgress) -> Void)?) throws -> PCAResult {
        try PrincipalComponents.fitInPrecision(&data, rows: rows, columns: columns, options: options,
                                               progress: progress)
    }
    public static func rankSweep(_ data: inout [Float], rows: Int, columns: Int, method: FactorizationMethod,
                                 options: RankSweepOptions, progress: ((String) -> Void)?) throws -> RankSweepResult {
        try RankSelection.sweepInPrecision(&data, rows: rows, columns: columns, method: method, options: options,
                                           progress: progress)
    }
}
