import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import TensorDecomposition

struct TCATiming: Encodable {
    let mode = "tca"
    let method: String
    let precision: String
    /// The fit alone, from the start of `fit` (initialisation included) to its return.
    let seconds: Double
    /// Seconds from the start until the relative error first reached `target` (nil: never, or no target).
    let secondsToTarget: Double?
    let target: Double?
    let iterations: Int
    /// Median seconds per iteration after the first.
    let secondsPerIteration: Double
    let relativeError: Double
    let missingFraction: Double
    let threads: Int
    let weights: [Double]
}

struct EnsembleTiming: Encodable {
    let mode = "tca-ensemble"
    let seconds: Double
    let fits: Int
    let threads: Int
    let precision: String
    /// Iterations of all fits together.
    let iterations: Int
    /// Per rank: best error, mean similarity, mean iterations.
    let summary: [[Double]]
}

/// `nfx-bench tca FILE DATASET …`: one CP fit timed in-process, without the HDF5 read and write. `--init FILE`
/// reads starting factors /mode0, /mode1, /mode2 (dim × rank; the same start for every tool); `--missing F`
/// hides a random fraction F of the entries (NaN) before the fit.
func measureTCA(path: String, dataset: String, rank: Int, method: String, precision: String, initPath: String?,
                maxIterations: Int, tolerance: Double, target: Double?, missing: Double,
                threads: Int, accelerate: Bool = false) throws -> TCATiming {
    let array = try HDF5File.open(path).dataset(dataset).read(as: Double.self)
    guard array.rank == 3 else { throw UsageError("\(dataset) must be units × time × trials") }
    var data = array.elements
    if missing > 0 {
        var generator = SeededGenerator(seed: 99)
        for index in data.indices where generator.uniform(in: 0..<1) < missing { data[index] = .nan }
    }
    var initialization = CPInitialization.random
    if let initPath {
        let start = try HDF5File.open(initPath)
        initialization = .given(try (0..<3).map { Matrix(try start.dataset("/mode\($0)").read(as: Double.self)) })
    }
    BLASThreads.set(threads)
    var options = CPOptions(rank: rank, method: CPMethod(rawValue: method) ?? .ncp, initialization: initialization,
                            maxIterations: maxIterations, tolerance: tolerance, threads: threads)
    options.accelerate = accelerate
    var stamps: [(seconds: Double, error: Double)] = []
    var started = Date()
    let record: (CPProgress) -> Void = { stamps.append((Date().timeIntervalSince(started), $0.relativeError)) }
    let fit: CPResult
    if precision == "single" {
        var single = data.map { Float($0) }
        data = []
        started = Date()
        fit = try CPDecomposition.fit(&single, shape: array.shape, options: options, progress: record)
    } else {
        started = Date()
        fit = try CPDecomposition.fit(&data, shape: array.shape, options: options, progress: record)
    }
    let total = Date().timeIntervalSince(started)
    let perIteration = zip(stamps.dropFirst(), stamps).map { $0.seconds - $1.seconds }
    return TCATiming(method: method, precision: precision, seconds: total,
                     secondsToTarget: target.flatMap { target in stamps.first { $0.error <= target }?.seconds },
                     target: target, iterations: fit.iterations,
                     secondsPerIteration: perIteration.isEmpty ? total : median(perIteration),
                     relativeError: fit.relativeError, missingFraction: missing, threads: threads, weights: fit.weights)
}

/// `nfx-bench tca-ensemble FILE DATASET --ranks A-B --replicates N`: the whole ensemble, timed in-process.
func measureEnsemble(path: String, dataset: String, ranks: [Int], replicates: Int, maxIterations: Int,
                     tolerance: Double, precision: String, threads: Int,
                     accelerate: Bool = false) throws -> EnsembleTiming {
    let array = try HDF5File.open(path).dataset(dataset).read(as: Double.self)
    var data = array.elements
    BLASThreads.set(threads)
    var method = CPOptions(rank: 1, maxIterations: maxIterations, tolerance: tolerance)
    method.accelerate = accelerate
    let options = CPEnsembleOptions(ranks: ranks, replicates: replicates, threads: threads)
    var ensemble: CPEnsemble?
    let elapsed: Double
    if precision == "single" {
        var single = data.map { Float($0) }
        data = []
        elapsed = try seconds {
            ensemble = try CPEnsembleFitting.fit(&single, shape: array.shape, method: method, options: options)
        }
    } else {
        elapsed = try seconds {
            ensemble = try CPEnsembleFitting.fit(&data, shape: array.shape, method: method, options: options)
        }
    }
    let fits = ensemble!.fits
    return EnsembleTiming(seconds: elapsed, fits: fits.count, threads: threads, precision: precision,
                          iterations: fits.reduce(0) { $0 + $1.result.iterations },
                          summary: ensemble!.summary.map { row in
                              let group = fits.filter { $0.rank == row.rank }
                              return [Double(row.rank), row.bestError, row.meanSimilarity,
                                      Double(group.reduce(0) { $0 + $1.result.iterations }) / Double(group.count)]
                          })
}
