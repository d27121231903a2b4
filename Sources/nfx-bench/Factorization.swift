import Factorization
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore

struct FactorizationTiming: Encodable {
    let mode = "factorize"
    let method: String
    let solver: String
    let precision: String
    /// The fit alone: from the start of `fit` (initialisation included) to its return.
    let seconds: Double
    /// Seconds from the start until the relative error first reached `target` (nil: never, or no target).
    let secondsToTarget: Double?
    let target: Double?
    let iterations: Int
    /// Seconds per iteration after the first (initialisation excluded), median.
    let secondsPerIteration: Double
    let relativeError: Double
    let missingFraction: Double
    let threads: Int
    let singularValues: [Double]?
}

/// `nfx-bench factorize FILE DATASET …`: one NMF or PCA fit timed in-process, without the HDF5 read and write,
/// so it compares with scikit-learn timed inside Python. `--init FILE` reads starting /W, /H (the same start for
/// every tool); `--missing F` hides a random fraction F of the entries (NaN) before the fit.
func measureFactorization(path: String, dataset: String, rank: Int, method: String, solver: String,
                          precision: String, initPath: String?, maxIterations: Int, tolerance: Double,
                          target: Double?, missing: Double, threads: Int) throws -> FactorizationTiming {
    let file = try HDF5File.open(path)
    let array = try file.dataset(dataset).read(as: Double.self)
    guard array.rank == 2 else { throw UsageError("\(dataset) must be units × time") }
    let (rows, columns) = (array.shape[0], array.shape[1])
    var data = array.elements
    if missing > 0 {
        var generator = SeededGenerator(seed: 99)
        for index in data.indices where generator.uniform(in: 0..<1) < missing { data[index] = .nan }
    }
    var initialization = NMFInitialization.nndsvda
    if let initPath {
        let start = try HDF5File.open(initPath)
        initialization = .given(W: Matrix(try start.dataset("/W").read(as: Double.self)),
                                H: Matrix(try start.dataset("/H").read(as: Double.self)))
    }
    BLASThreads.set(threads)
    var stamps: [(seconds: Double, error: Double)] = []
    var started = Date()
    let record: (FactorizationProgress) -> Void = { stamps.append((Date().timeIntervalSince(started), $0.relativeError)) }

    func run<T: FactorizationScalar>(_ values: inout [T]) throws -> (FactorizationResult, [Double]?) {
        started = Date()
        if method == "pca" {
            let result = try PrincipalComponents.fit(&values, rows: rows, columns: columns, options: PCAOptions(
                rank: rank, solver: PCASolver(rawValue: solver) ?? .auto, maxIterations: maxIterations,
                tolerance: tolerance, threads: threads), progress: record)
            return (result.factorization, result.singularValues)
        }
        let options = NMFOptions(rank: rank, solver: NMFSolver(rawValue: solver) ?? .hals,
                                 initialization: initialization, maxIterations: maxIterations, tolerance: tolerance,
                                 threads: threads)
        return (try NonnegativeMatrixFactorization.fit(&values, rows: rows, columns: columns, options: options,
                                                       progress: record), nil)
    }

    let fit: FactorizationResult, singularValues: [Double]?
    if precision == "single" {
        var single = data.map { Float($0) }
        data = []
        (fit, singularValues) = try run(&single)
    } else {
        (fit, singularValues) = try run(&data)
    }
    let total = Date().timeIntervalSince(started)
    let perIteration = zip(stamps.dropFirst(), stamps).map { $0.seconds - $1.seconds }
    let reached = target.flatMap { target in stamps.first { $0.error <= target }?.seconds }
    return FactorizationTiming(method: method, solver: solver, precision: precision, seconds: total,
                               secondsToTarget: reached, target: target, iterations: fit.iterations,
                               secondsPerIteration: perIteration.isEmpty ? total : median(perIteration),
                               relativeError: fit.relativeError, missingFraction: missing, threads: threads,
                               singularValues: singularValues)
}
