import CKernels
import Foundation

/// `nfx-bench MODE …`: one measurement per process, printed as ONE JSON line on stdout for Scripts/bench/.
///
/// Times are wall-clock seconds of the measured section only (not process start-up or input generation), so the
/// Python side can compare them with timings taken inside its own process.
let usage = """
    usage: nfx-bench dgemm [--n 2000] [--threads 1] [--repeats 5]
           nfx-bench bandwidth [--megabytes 512] [--repeats 5]
           nfx-bench h5read FILE DATASET
           nfx-bench h5write FILE ROWS COLS
           nfx-bench deconvolve FILE DATASET [--g G] [--threads 2] [--repeats 3]
           nfx-bench factorize FILE DATASET --rank K [--method nmf|pca] [--solver hals|mu|auto|exact|randomized]
                     [--precision double|single] [--init FILE] [--max-iter 200] [--tol 1e-4] [--target E]
                     [--missing F] [--threads 2]
           nfx-bench tca FILE DATASET --rank R [--method ncp|cp] [--precision double|single] [--init FILE]
                     [--max-iter 500] [--tol 1e-6] [--target E] [--missing F] [--threads 2]
           nfx-bench tca-ensemble FILE DATASET --low A --high B --replicates N [--max-iter 500] [--tol 1e-6]
                     [--precision double|single] [--threads 2]
    """

// The same allocator settings as nfx itself.
nfx_reuse_freed_blocks()
do {
    var arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    switch arguments.mode {
    case "dgemm":
        let size = try arguments.integer("n", default: 2000)
        let threads = try arguments.integer("threads", default: 1)
        let repeats = try arguments.integer("repeats", default: 5)
        try arguments.expectPositionals(0)
        try printJSON(measureDGEMM(size: size, threads: threads, repeats: repeats))
    case "bandwidth":
        let megabytes = try arguments.integer("megabytes", default: 512)
        let repeats = try arguments.integer("repeats", default: 5)
        try arguments.expectPositionals(0)
        try printJSON(measureBandwidth(megabytes: megabytes, repeats: repeats))
    case "h5read":
        try arguments.expectPositionals(2)
        try printJSON(measureHDF5Read(path: arguments.positionals[0], dataset: arguments.positionals[1]))
    case "h5write":
        try arguments.expectPositionals(3)
        guard let rows = Int(arguments.positionals[1]), let columns = Int(arguments.positionals[2]),
              rows > 0, columns > 0 else { throw UsageError("ROWS and COLS must be positive integers") }
        try printJSON(measureHDF5Write(path: arguments.positionals[0], rows: rows, columns: columns))
    case "deconvolve":
        let g = try arguments.double("g")
        let threads = try arguments.integer("threads", default: 2)
        let repeats = try arguments.integer("repeats", default: 3)
        try arguments.expectPositionals(2)
        try printJSON(measureDeconvolution(path: arguments.positionals[0], dataset: arguments.positionals[1], g: g,
                                           threads: threads, repeats: repeats))
    case "factorize":
        let rank = try arguments.integer("rank", default: 10)
        let method = try arguments.string("method", default: "nmf")
        let solver = try arguments.string("solver", default: method == "pca" ? "auto" : "hals")
        let precision = try arguments.string("precision", default: "double")
        let initPath = try arguments.optionalString("init")
        let maxIterations = try arguments.integer("max-iter", default: 200)
        let tolerance = try arguments.double("tol") ?? 1e-4
        let target = try arguments.double("target")
        let missing = try arguments.double("missing") ?? 0
        let threads = try arguments.integer("threads", default: 2)
        try arguments.expectPositionals(2)
        try printJSON(measureFactorization(path: arguments.positionals[0], dataset: arguments.positionals[1],
                                           rank: rank, method: method, solver: solver, precision: precision,
                                           initPath: initPath, maxIterations: maxIterations, tolerance: tolerance,
                                           target: target, missing: missing, threads: threads))
    case "tca":
        let rank = try arguments.integer("rank", default: 10)
        let method = try arguments.string("method", default: "ncp")
        let precision = try arguments.string("precision", default: "double")
        let initPath = try arguments.optionalString("init")
        let maxIterations = try arguments.integer("max-iter", default: 500)
        let tolerance = try arguments.double("tol") ?? 1e-6
        let target = try arguments.double("target")
        let missing = try arguments.double("missing") ?? 0
        let threads = try arguments.integer("threads", default: 2)
        let accelerate = try arguments.string("acceleration", default: "her") == "her"
        try arguments.expectPositionals(2)
        try printJSON(measureTCA(path: arguments.positionals[0], dataset: arguments.positionals[1], rank: rank,
                                 method: method, precision: precision, initPath: initPath,
                                 maxIterations: maxIterations, tolerance: tolerance, target: target,
                                 missing: missing, threads: threads, accelerate: accelerate))
    case "tca-ensemble":
        let low = try arguments.integer("low", default: 1)
        let high = try arguments.integer("high", default: 12)
        let replicates = try arguments.integer("replicates", default: 8)
        let maxIterations = try arguments.integer("max-iter", default: 500)
        let tolerance = try arguments.double("tol") ?? 1e-6
        let precision = try arguments.string("precision", default: "double")
        let threads = try arguments.integer("threads", default: 2)
        let accelerate = try arguments.string("acceleration", default: "her") == "her"
        try arguments.expectPositionals(2)
        guard low <= high else { throw UsageError("--low must be ≤ --high") }
        try printJSON(measureEnsemble(path: arguments.positionals[0], dataset: arguments.positionals[1],
                                      ranks: Array(low...high), replicates: replicates,
                                      maxIterations: maxIterations, tolerance: tolerance, precision: precision,
                                      threads: threads, accelerate: accelerate))
    default:
        throw UsageError("unknown mode '\(arguments.mode)'")
    }
} catch let error as UsageError {
    FileHandle.standardError.write(Data("nfx-bench: error: \(error.message)\n\(usage)\n".utf8))
    exit(64)
} catch {
    FileHandle.standardError.write(Data("nfx-bench: error: \(error)\n".utf8))
    exit(70)
}
