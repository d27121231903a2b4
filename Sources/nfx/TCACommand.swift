import ArgumentParser
import Factorization
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO
import TensorDecomposition

struct TCACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tca",
        abstract: "Tensor component analysis: CP decomposition of a units × time × trials tensor, with ensembles.",
        discussion: """
        X ≈ Σ_r w_r · a_r ∘ b_r ∘ c_r (Williams et al. 2018): each component is a pattern over units, a time course \
        within trials and an amplitude per trial. --method ncp (default) fits non-negative factors by HALS, --method \
        cp unconstrained ones by ALS. NaN entries are missing and are masked out of the fit. Factors have unit-norm \
        columns, the scale is in /weights, components are sorted by weight. --ranks A-B fits every rank \
        --replicates times from random starts (concurrently) and prints per rank the best error and how similar \
        the replicates are to the best one; fits from separate runs (e.g. one rank per job) are combined with \
        --summarize.

        Examples:
          nfx tca trials.h5 --rank 4
          nfx tca trials.h5 --ranks 1-12 --replicates 8
          nfx tca trials.h5 --ranks 5-5 -o rank5.h5; nfx tca trials.h5 --ranks 6-6 -o rank6.h5
          nfx tca --summarize rank5.h5 rank6.h5 -o ensemble.h5
        """
    )

    @Argument(help: ArgumentHelp("PATH or PATH:DATASET, units × time × trials (HDF5 or .npy).", valueName: "input"))
    var input: String?

    @Option(help: "ncp (non-negative, HALS; the default) or cp (unconstrained, ALS).")
    var method: String = "ncp"

    @Option(help: "Number of components (with --ranks: the rank written as /factors; default chosen from similarity and error).")
    var rank: Int?

    @Option(help: ArgumentHelp("Fit an ensemble over these ranks, e.g. 1-12.", valueName: "A-B"))
    var ranks: String?

    @Option(help: "Fits per rank in an ensemble, each from its own random start.")
    var replicates: Int = 8

    @Option(name: .customLong("init"), help: ArgumentHelp(
        "Start of a single fit: svd (leading singular vectors of each unfolding), random, or an HDF5 file with /factors/mode0..2.",
        valueName: "init"))
    var initialization: String = "svd"

    @Option(help: "Iteration limit (exactly this many with --tol 0).")
    var maxIter: Int = 500

    @Option(help: "Stop when the objective changes by less than this fraction in an iteration.")
    var tol: Double = 1e-6

    @Option(help: "double (Float64) or single (Float32: half the memory and time).")
    var precision: String = "double"

    @Option(help: "ncp: her (extrapolation with restarts, Ang et al. 2021: about half the iterations; the objective may rise where a step is undone) or none (plain HALS, monotone).")
    var acceleration: String = "her"

    @Flag(help: "ncp of data with negative values: subtract the minimum first.")
    var shiftMin = false

    @Flag(help: "ncp of data with negative values: set the negative entries to 0 first.")
    var clip = false

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Combine the ensembles of earlier nfx tca --ranks outputs: align, tabulate and write them together.",
        valueName: "files"))
    var summarize: [String] = []

    @OptionGroup var options: CommonOptions

    private var chosenMethod: CPMethod? { CPMethod(rawValue: method.lowercased()) }

    func validate() throws {
        guard ["her", "none"].contains(acceleration) else {
            throw ValidationError("--acceleration must be her or none, got '\(acceleration)'")
        }
        if !summarize.isEmpty {
            guard input == nil else { throw ValidationError("--summarize takes result files only, not an input") }
            guard options.out != nil else { throw ValidationError("--summarize needs -o/--out for the combined file") }
            return
        }
        guard input != nil else { throw ValidationError("give an input tensor (or --summarize FILES)") }
        guard chosenMethod != nil else { throw ValidationError("--method must be ncp or cp, got '\(method)'") }
        guard ["double", "single"].contains(precision) else {
            throw ValidationError("--precision must be double or single, got '\(precision)'")
        }
        if let rank, rank < 1 { throw ValidationError("--rank must be at least 1, got \(rank)") }
        if rank == nil && ranks == nil { throw ValidationError("give --rank R or --ranks A-B") }
        if ranks != nil { _ = try ensembleRanks() }
        guard replicates >= 1 else { throw ValidationError("--replicates must be at least 1, got \(replicates)") }
        guard maxIter >= 1 else { throw ValidationError("--max-iter must be at least 1, got \(maxIter)") }
        guard tol >= 0 && tol.isFinite else { throw ValidationError("--tol must be ≥ 0, got \(tol)") }
        if shiftMin && clip { throw ValidationError("--shift-min and --clip cannot both be given") }
        if chosenMethod == .cp && (shiftMin || clip) {
            throw ValidationError("--shift-min and --clip are for --method ncp; cp takes signed data")
        }
    }

    func ensembleRanks() throws -> [Int] {
        guard let ranks else { return [] }
        return try parseRankRange(ranks, example: "1-12")
    }

    func run() throws {
        if !summarize.isEmpty { return try runSummary() }
        let started = Date()
        BLASThreads.set(options.threadCount)
        let spec = InputSpec(parsing: input!)
        let output = try AtomicOutput(path: options.outputPath(for: spec, command: "tca"), force: options.force,
                                      inputs: [spec.path])
        var provenance = Provenance(command: "tca", seed: options.seed, started: started)
        var loaded: LoadedInput? = try InputLoader.load(spec, requirements: InputRequirements(
            rank: 3, axesDescription: "units × time × trials", allowsNaN: true, timeAxis: .last))
        provenance.record(input: loaded!)
        let name = loaded!.name
        let shape = loaded!.array.shape
        var data = loaded!.array.elements
        loaded = nil  // `data` is now the only reference: the EM fill writes into it without a copy.

        let shift = try prepareForNCP(&data, name: name)
        let reporter = options.reporter
        let fits: TCAFits
        do {
            if precision == "single" {
                var single = data.map { Float($0) }
                data = []
                fits = try decompose(&single, shape: shape, reporter: reporter)
            } else {
                fits = try decompose(&data, shape: shape, reporter: reporter)
            }
        } catch let error as TensorDecompositionError {
            throw classify(error, name: name)
        }
        record(&provenance, fits: fits, shift: shift)
        try writeOutput(output, provenance: provenance) { file in try fits.write(to: file) }
        report(fits, shape: shape, output: output.path, seconds: provenance.wallSeconds)
    }

    /// --summarize: the ensembles of several outputs aligned together.
    private func runSummary() throws {
        let started = Date()
        let output = try AtomicOutput(path: options.out!, force: options.force, inputs: summarize)
        var collected: [CPEnsembleFit] = []
        for path in summarize { collected += try TCAFits.readEnsemble(path) }
        let ensemble = CPEnsemble(fits: collected)
        let chosen = rank ?? ensemble.selectedRank() ?? ensemble.summary.first?.rank
        guard let chosen, let best = ensemble.best(rank: chosen) else {
            throw NFXError.usage("--rank \(rank ?? 0) is not among the ensembles' ranks \(ensemble.summary.map(\.rank))")
        }
        let fits = TCAFits(method: "summary", fit: best.result, ensemble: ensemble)
        var provenance = Provenance(command: "tca", seed: options.seed, started: started)
        provenance.record("summarized", summarize.joined(separator: ","))
        provenance.record("rank", chosen)
        provenance.record("relative_error", best.result.relativeError)
        try writeOutput(output, provenance: provenance) { file in try fits.write(to: file) }
        report(fits, shape: best.result.factors.map(\.rows), output: output.path, seconds: provenance.wallSeconds)
    }

    private func prepareForNCP(_ data: inout [Double], name: String) throws -> Double? {
        guard chosenMethod == .ncp else { return nil }
        return try NonnegativeInput(clip: clip, shiftMin: shiftMin).prepare(&data, name: name, method: "non-negative CP",
                                                                            alternative: "--method cp")
    }

    private func classify(_ error: TensorDecompositionError, name: String) -> NFXError {
        switch error {
        case .invalidRank, .invalidOption, .invalidInitialFactors: return .usage(error.description)
        case .negativeEntries, .tooFewObserved, .invalidShape: return .data("\(name): \(error.description)")
        case .numerical: return NFXError(.internal, "\(name): \(error.description)",
                                         hint: "this is a bug in nfx or a numerical failure; please report it")
        }
    }

    private func cpOptions(rank: Int) throws -> CPOptions {
        let start: CPInitialization
        switch initialization {
        case "svd": start = .svd
        case "random": start = .random
        default: start = try TCAFits.readInitialFactors(initialization)
        }
        var settings = CPOptions(rank: rank, method: chosenMethod!, initialization: start, maxIterations: maxIter,
                                 tolerance: tol, seed: options.seed, threads: options.threadCount)
        settings.accelerate = acceleration == "her"
        return settings
    }

    private func decompose<T: TensorScalar>(_ data: inout [T], shape: [Int], reporter: Reporter) throws -> TCAFits {
        if ranks != nil {
            let ensemble = try CPEnsembleFitting.fit(&data, shape: shape, method: try cpOptions(rank: 1), options:
                CPEnsembleOptions(ranks: try ensembleRanks(), replicates: replicates, seed: options.seed,
                                  threads: options.threadCount)) { reporter.progress("tca: fitting \($0)") }
            reporter.progress("tca: ensemble done", done: true)
            let chosen = rank ?? ensemble.selectedRank() ?? ensemble.summary[0].rank
            guard let best = ensemble.best(rank: chosen) else {
                throw NFXError.usage("--rank \(chosen) is not in --ranks \(ranks!)")
            }
            return TCAFits(method: method, fit: best.result, ensemble: ensemble)
        }
        let fit = try CPDecomposition.fit(&data, shape: shape, options: try cpOptions(rank: rank!)) { step in
            reporter.progress(String(format: "tca: iteration %d, relative error %.6f", step.iteration, step.relativeError))
        }
        reporter.progress("", done: false)
        return TCAFits(method: method, fit: fit, ensemble: nil)
    }

    private func record(_ provenance: inout Provenance, fits: TCAFits, shift: Double?) {
        provenance.record("method", method)
        provenance.record("rank", fits.fit.rank)
        provenance.record("relative_error", fits.fit.relativeError)
        provenance.record("iterations", fits.fit.iterations)
        provenance.record("converged", fits.fit.converged ? 1 : 0)
        provenance.record("init", initialization)
        provenance.record("max_iter", maxIter)
        provenance.record("tol", tol)
        provenance.record("precision", precision)
        provenance.record("acceleration", method == "ncp" ? acceleration : "none")
        provenance.record("threads", options.threadCount)
        if chosenMethod == .ncp {
            provenance.record("shift_min", shift ?? 0)
            provenance.record("clip", clip ? 1 : 0)
        }
        if let ranks {
            provenance.record("ranks", ranks)
            provenance.record("replicates", replicates)
            provenance.record("rank_selected_by", rank == nil ? "smallest stable rank (similarity >= 0.95) within 3% of the largest stable rank's error" : "--rank")
        }
    }

    private func report(_ fits: TCAFits, shape: [Int], output: String, seconds: Double) {
        let reporter = options.reporter
        if let ensemble = fits.ensemble {
            reporter.result(" rank  best error  mean error  similarity")
            for row in ensemble.summary {
                let marker = row.rank == fits.fit.rank ? "  ← written" : ""
                reporter.result(String(format: "%5d  %10.5f  %10.5f  %10.3f", row.rank, row.bestError, row.meanError,
                                       row.meanSimilarity) + marker)
            }
        }
        let shapeText = shape.map(String.init).joined(separator: " × ")
        reporter.result(String(format: "TCA of %@ at rank %d: relative error %.5f (%d iterations%@) → %@", shapeText,
                               fits.fit.rank, fits.fit.relativeError, fits.fit.iterations,
                               fits.fit.converged ? "" : ", not converged: raise --max-iter", output))
        var summary: [String: JSONValue] = [
            "command": .string("tca"), "output": .string(output), "method": .string(fits.method),
            "rank": .integer(fits.fit.rank), "relative_error": .number(fits.fit.relativeError),
            "iterations": .integer(fits.fit.iterations), "converged": .bool(fits.fit.converged),
            "shape": .shape(shape), "weights": .array(fits.fit.weights.map { .number($0) }),
            "wall_seconds": .number(seconds),
        ]
        if let ensemble = fits.ensemble {
            summary["ensemble"] = .array(ensemble.summary.map { row in
                .object(["rank": .integer(row.rank), "best_error": .number(row.bestError),
                         "mean_error": .number(row.meanError), "similarity": .number(row.meanSimilarity)])
            })
        }
        reporter.summary(summary)
    }
}

/// What `nfx tca` computed and its layout in the output file (contract: "Datasets per command").
struct TCAFits {
    var method: String
    var fit: CPResult
    var ensemble: CPEnsemble?

    func write(to file: HDF5File) throws {
        try Self.write(fit, to: file.root, prefix: "")
        guard let ensemble else { return }
        for member in ensemble.fits {
            try Self.write(member.result, to: file.root, prefix: "/ensemble/rank_\(member.rank)/replicate_\(member.replicate)")
        }
        let rows = ensemble.fits.flatMap { [Double($0.rank), Double($0.replicate), $0.result.relativeError, $0.similarity] }
        try file.root.write(NDArray(shape: [ensemble.fits.count, 4], elements: rows), to: "/ensemble/summary")
        try file.dataset("/ensemble/summary").setAttribute("columns", .string("rank,replicate,error,similarity"))
    }

    private static func write(_ result: CPResult, to root: HDF5Group, prefix: String) throws {
        for (mode, factor) in result.factors.enumerated() {
            try root.write(factor.ndarray, to: "\(prefix)/factors/mode\(mode)")
        }
        try root.write(NDArray(shape: [result.rank], elements: result.weights), to: "\(prefix)/weights")
        try root.write(NDArray(shape: [result.objective.count], elements: result.objective), to: "\(prefix)/objective")
        try root.write(NDArray(shape: [result.relativeErrors.count], elements: result.relativeErrors),
                       to: "\(prefix)/relative_error")
    }

    /// The fits under /ensemble of an earlier `nfx tca --ranks` output.
    static func readEnsemble(_ path: String) throws -> [CPEnsembleFit] {
        try InputLoader.checkReadableFile(path)
        do {
            let file = try HDF5File.open(path)
            guard file.contains("/ensemble") else {
                throw NFXError.noInput("\(path) has no /ensemble group", hint: "write one with nfx tca INPUT --ranks A-B")
            }
            var fits: [CPEnsembleFit] = []
            for (rankName, _) in try file.group("/ensemble").members() where rankName.hasPrefix("rank_") {
                guard let rank = Int(rankName.dropFirst(5)) else { continue }
                for (replicateName, _) in try file.group("/ensemble/\(rankName)").members() {
                    guard replicateName.hasPrefix("replicate_"), let replicate = Int(replicateName.dropFirst(10))
                    else { continue }
                    let group = "/ensemble/\(rankName)/\(replicateName)"
                    fits.append(CPEnsembleFit(rank: rank, replicate: replicate, result: try readResult(file, group: group)))
                }
            }
            return fits
        } catch let error as HDF5Error {
            throw NFXError(error)
        }
    }

    static func readResult(_ file: HDF5File, group: String) throws -> CPResult {
        var factors: [Matrix] = []
        while file.contains("\(group)/factors/mode\(factors.count)") {
            factors.append(Matrix(try file.dataset("\(group)/factors/mode\(factors.count)").read(as: Double.self)))
        }
        let weights = try file.dataset("\(group)/weights").read(as: Double.self).elements
        let objective = try file.dataset("\(group)/objective").read(as: Double.self).elements
        let errors = try file.dataset("\(group)/relative_error").read(as: Double.self).elements
        return CPResult(factors: factors, weights: weights, objective: objective, relativeErrors: errors,
                        iterations: objective.count, converged: true)
    }

    /// `--init FILE`: /factors/mode0..2 of an HDF5 file (e.g. an earlier result), scaled by its /weights if present.
    static func readInitialFactors(_ path: String) throws -> CPInitialization {
        guard FileManager.default.fileExists(atPath: path) else {
            throw NFXError.usage("--init must be svd, random or an HDF5 file with /factors/mode0..2; '\(path)' is none of these")
        }
        do {
            let file = try HDF5File.open(path)
            var factors: [Matrix] = []
            while file.contains("/factors/mode\(factors.count)") {
                factors.append(Matrix(try file.dataset("/factors/mode\(factors.count)").read(as: Double.self)))
            }
            guard !factors.isEmpty else { throw NFXError.noInput("\(path) has no /factors/mode0") }
            if file.contains("/weights") {
                let weights = try file.dataset("/weights").read(as: Double.self).elements
                for r in 0..<min(weights.count, factors[0].columns) {
                    for i in 0..<factors[0].rows { factors[0][i, r] *= weights[r] }
                }
            }
            return .given(factors)
        } catch let error as HDF5Error {
            throw NFXError(error)
        }
    }
}
