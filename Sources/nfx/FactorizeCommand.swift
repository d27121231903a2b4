import ArgumentParser
import Factorization
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO

struct FactorizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "factorize",
        abstract: "Low-rank factorization of a units × time matrix: NMF or PCA, with rank selection.",
        discussion: """
        X ≈ W·H: a column of W (units × rank) is an ensemble of units, the matching row of H (rank × time) its \
        activity. NMF (default) fits non-negative W, H by HALS; PCA centres each unit and takes the leading singular \
        vectors. NaN entries are missing and are masked out of the fit. W's columns have unit norm and components \
        are sorted by contribution. --ranks A-B fits every rank --replicates times with --holdout of the entries \
        hidden, prints train and test error per rank, and writes the smallest rank whose test error is within one \
        standard error of the lowest (or --rank) refitted on all the data as /W, /H.

        Examples:
          nfx factorize rec.h5 --rank 10
          nfx factorize rec.h5 --ranks 2-20 --replicates 5
          nfx factorize rec.h5 --method pca --rank 20 --json
          nfx factorize dff.npy --rank 8 --shift-min --precision single
        """
    )

    @OptionGroup var input: InputArguments

    @Option(help: "nmf (non-negative, the default) or pca (centred, signed).")
    var method: String = "nmf"

    @Option(help: "Number of components (with --ranks: the rank to write as /W, /H instead of the best one).")
    var rank: Int?

    @Option(help: ArgumentHelp("Sweep these ranks, e.g. 2-20 or 5.", valueName: "A-B"))
    var ranks: String?

    @Option(help: "Fits per rank in a sweep (each holds out different entries, NMF starts from different factors).")
    var replicates: Int = 5

    @Option(help: "Fraction of entries held out of each sweep fit for the test error (0: none).")
    var holdout: Double = 0.1

    @Option(help: "NMF update rule: hals (fast) or mu (multiplicative, for comparison).")
    var solver: String = "hals"

    @Option(name: .customLong("init"), help: ArgumentHelp("NMF start: nndsvda, nndsvd, random, or an HDF5 file with /W and /H (sweeps start at random).",
                               valueName: "init"))
    var initialization: String = "nndsvda"

    @Option(name: .customLong("l1-w"), help: "L1 (sparsity) penalty on W.")
    var l1W: Double = 0
    @Option(name: .customLong("l2-w"), help: "L2 penalty on W.")
    var l2W: Double = 0
    @Option(name: .customLong("l1-h"), help: "L1 (sparsity) penalty on H.")
    var l1H: Double = 0
    @Option(name: .customLong("l2-h"), help: "L2 penalty on H.")
    var l2H: Double = 0

    @Option(help: "Iteration limit (exactly this many with --tol 0). PCA iterates only with missing entries.")
    var maxIter: Int = 200

    @Option(help: "Stop when the objective falls by less than this fraction in an iteration.")
    var tol: Double = 1e-4

    @Option(help: "double (Float64) or single (Float32: half the memory and time, ~1e-6 relative precision).")
    var precision: String = "double"

    @Option(help: "PCA solver: auto, exact (LAPACK) or randomized (Halko et al.).")
    var svd: String = "auto"

    @Option(help: "Power iterations of the randomized PCA solver.")
    var powerIterations: Int = 5

    @Flag(help: "NMF of data with negative values: subtract the minimum first.")
    var shiftMin = false

    @Flag(help: "NMF of data with negative values: set the negative entries to 0 first.")
    var clip = false

    @OptionGroup var options: CommonOptions

    private var chosenMethod: String { method.lowercased() }

    func validate() throws {
        guard ["nmf", "pca"].contains(chosenMethod) else { throw ValidationError("--method must be nmf or pca, got '\(method)'") }
        guard NMFSolver(rawValue: solver) != nil else { throw ValidationError("--solver must be hals or mu, got '\(solver)'") }
        guard PCASolver(rawValue: svd) != nil else { throw ValidationError("--svd must be auto, exact or randomized, got '\(svd)'") }
        guard ["double", "single"].contains(precision) else {
            throw ValidationError("--precision must be double or single, got '\(precision)'")
        }
        if let rank, rank < 1 { throw ValidationError("--rank must be at least 1, got \(rank)") }
        if rank == nil && ranks == nil { throw ValidationError("give --rank K or --ranks A-B") }
        if ranks != nil { _ = try sweepRanks() }
        guard replicates >= 1 else { throw ValidationError("--replicates must be at least 1, got \(replicates)") }
        guard holdout >= 0 && holdout < 1 else { throw ValidationError("--holdout must be in [0, 1), got \(holdout)") }
        if ranks != nil && rank == nil && holdout == 0 {
            throw ValidationError("--ranks without a hold-out cannot choose a rank: give --rank K or --holdout > 0")
        }
        guard maxIter >= 1 else { throw ValidationError("--max-iter must be at least 1, got \(maxIter)") }
        guard tol >= 0 && tol.isFinite else { throw ValidationError("--tol must be ≥ 0, got \(tol)") }
        guard powerIterations >= 0 else { throw ValidationError("--power-iterations must be ≥ 0, got \(powerIterations)") }
        for (flag, value) in [("--l1-w", l1W), ("--l2-w", l2W), ("--l1-h", l1H), ("--l2-h", l2H)]
            where !(value >= 0 && value.isFinite) {
            throw ValidationError("\(flag) must be ≥ 0, got \(value)")
        }
        if shiftMin && clip { throw ValidationError("--shift-min and --clip cannot both be given") }
        if chosenMethod == "pca" && (shiftMin || clip) {
            throw ValidationError("--shift-min and --clip are for --method nmf; PCA centres the data itself")
        }
    }

    /// --ranks "A-B" or "A" as an ascending list.
    func sweepRanks() throws -> [Int] {
        guard let ranks else { return [] }
        return try parseRankRange(ranks, example: "2-20")
    }

    func run() throws {
        let started = Date()
        BLASThreads.set(options.threadCount)
        let spec = input.spec
        let output = try AtomicOutput(path: options.outputPath(for: spec, command: "factorize"), force: options.force,
                                      inputs: [spec.path])
        var provenance = Provenance(command: "factorize", seed: options.seed, started: started)
        var loaded: LoadedInput? = try InputLoader.load(spec, requirements: InputRequirements(
            rank: 2, axesDescription: "units × time", allowsNaN: true, timeAxis: input.timeAxis))
        provenance.record(input: loaded!)
        let name = loaded!.name
        let (rows, columns) = (loaded!.array.shape[0], loaded!.array.shape[1])
        var data = loaded!.array.elements
        loaded = nil  // `data` is now the only reference: the fit fills missing entries in place, without a copy.

        let shift = try prepareForNMF(&data, name: name)
        let reporter = options.reporter
        let fits: FactorizeFits
        do {
            if precision == "single" {
                var single = data.map { Float($0) }
                data = []
                fits = try factorize(&single, rows: rows, columns: columns, reporter: reporter)
            } else {
                fits = try factorize(&data, rows: rows, columns: columns, reporter: reporter)
            }
        } catch let error as FactorizationError {
            throw classify(error, name: name)
        }

        record(&provenance, fits: fits, shift: shift)
        try writeOutput(output, provenance: provenance) { file in try fits.write(to: file) }
        report(fits, rows: rows, columns: columns, output: output.path, seconds: provenance.wallSeconds)
    }

    /// NMF needs data ≥ 0: refuse negative entries unless --shift-min or --clip says what to do with them.
    /// Returns the amount subtracted by --shift-min.
    private func prepareForNMF(_ data: inout [Double], name: String) throws -> Double? {
        guard chosenMethod == "nmf" else { return nil }
        return try NonnegativeInput(clip: clip, shiftMin: shiftMin).prepare(&data, name: name, method: "NMF",
                                                                            alternative: "--method pca")
    }

    private func classify(_ error: FactorizationError, name: String) -> NFXError {
        switch error {
        case .invalidRank, .invalidOption, .invalidInitialFactors: return .usage(error.description)
        case .negativeEntries, .tooFewObserved: return .data("\(name): \(error.description)")
        case .numerical: return NFXError(.internal, "\(name): \(error.description)",
                                         hint: "this is a bug in nfx or a numerical failure; please report it")
        }
    }

    private func nmfOptions(rank: Int) throws -> NMFOptions {
        let start: NMFInitialization
        switch initialization {
        case "nndsvda": start = .nndsvda
        case "nndsvd": start = .nndsvd
        case "random": start = .random
        default: start = try InitialFactorsReader.read(initialization)
        }
        return NMFOptions(rank: rank, solver: NMFSolver(rawValue: solver)!, initialization: start,
                          penalties: NMFPenalties(l1W: l1W, l2W: l2W, l1H: l1H, l2H: l2H),
                          maxIterations: maxIter, tolerance: tol, seed: options.seed,
                          threads: options.threadCount)
    }

    private func pcaOptions(rank: Int) -> PCAOptions {
        PCAOptions(rank: rank, solver: PCASolver(rawValue: svd)!, powerIterations: powerIterations,
                   maxIterations: maxIter, tolerance: tol, seed: options.seed,
                          threads: options.threadCount)
    }

    private func factorize<T: FactorizationScalar>(_ data: inout [T], rows: Int, columns: Int,
                                          reporter: Reporter) throws -> FactorizeFits {
        var sweep: RankSweepResult?
        var finalRank = rank
        if ranks != nil {
            let method: FactorizationMethod = chosenMethod == "pca" ? .pca(pcaOptions(rank: 1))
                : .nmf(try nmfOptions(rank: 1))
            let result = try RankSelection.sweep(&data, rows: rows, columns: columns, method: method, options:
                RankSweepOptions(ranks: try sweepRanks(), replicates: replicates, holdoutFraction: holdout,
                                 seed: options.seed)) { reporter.progress("factorize: fitting \($0)") }
            reporter.progress("factorize: sweep done", done: true)
            finalRank = finalRank ?? result.selectedRank
            sweep = result
        }
        guard let finalRank else { throw NFXError.usage("no rank to fit: give --rank K") }
        let progress: (FactorizationProgress) -> Void = { step in
            reporter.progress(String(format: "factorize: iteration %d, relative error %.6f", step.iteration,
                                     step.relativeError))
        }
        defer { reporter.progress("", done: false) }
        if chosenMethod == "pca" {
            let pca = try PrincipalComponents.fit(&data, rows: rows, columns: columns, options: pcaOptions(rank: finalRank),
                                                  progress: progress)
            return FactorizeFits(method: "pca", fit: pca.factorization, pca: pca, sweep: sweep)
        }
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: rows, columns: columns,
                                                         options: try nmfOptions(rank: finalRank), progress: progress)
        return FactorizeFits(method: "nmf", fit: fit, pca: nil, sweep: sweep)
    }

    private func record(_ provenance: inout Provenance, fits: FactorizeFits, shift: Double?) {
        provenance.record("method", fits.method)
        provenance.record("rank", fits.fit.W.columns)
        provenance.record("relative_error", fits.fit.relativeError)
        provenance.record("iterations", fits.fit.iterations)
        provenance.record("converged", fits.fit.converged ? 1 : 0)
        provenance.record("max_iter", maxIter)
        provenance.record("tol", tol)
        provenance.record("precision", precision)
        provenance.record("threads", options.threadCount)
        if let pca = fits.pca {
            provenance.record("svd", pca.solver.rawValue)
            provenance.record("power_iterations", powerIterations)
        } else {
            provenance.record("solver", solver)
            provenance.record("init", initialization)
            provenance.record("l1_w", l1W)
            provenance.record("l2_w", l2W)
            provenance.record("l1_h", l1H)
            provenance.record("l2_h", l2H)
            provenance.record("shift_min", shift ?? 0)
            provenance.record("clip", clip ? 1 : 0)
        }
        if let ranks {
            provenance.record("ranks", ranks)
            provenance.record("replicates", replicates)
            provenance.record("holdout", holdout)
            provenance.record("rank_selected_by", rank == nil ? "test_error" : "--rank")
        }
    }

    private func report(_ fits: FactorizeFits, rows: Int, columns: Int, output: String, seconds: Double) {
        let reporter = options.reporter
        if let sweep = fits.sweep {
            reporter.result(" rank  train error  test error  similarity")
            for row in sweep.summary {
                let marker = row.rank == fits.fit.W.columns ? "  ← written" : ""
                reporter.result(String(format: "%5d  %11.5f  %10.5f  %10.3f", row.rank, row.trainError, row.testError,
                                       row.similarity) + marker)
            }
        }
        let effort = fits.pca.map { pca in
            "\(pca.solver.rawValue) SVD" + (fits.fit.iterations > 1 ? ", \(fits.fit.iterations) EM iterations" : "")
        } ?? "\(fits.fit.iterations) iterations" + (fits.fit.converged ? "" : " (not converged: raise --max-iter)")
        var line = String(format: "%@ of %d × %d at rank %d: relative error %.5f (%@)", fits.method.uppercased(),
                          rows, columns, fits.fit.W.columns, fits.fit.relativeError, effort)
        if let pca = fits.pca {
            line += String(format: "; explained variance %.1f %%", 100 * pca.explainedVarianceRatio.reduce(0, +))
        }
        reporter.result(line + " → \(output)")
        var summary: [String: JSONValue] = [
            "command": .string("factorize"), "output": .string(output), "method": .string(fits.method),
            "rank": .integer(fits.fit.W.columns), "relative_error": .number(fits.fit.relativeError),
            "iterations": .integer(fits.fit.iterations), "converged": .bool(fits.fit.converged),
            "units": .integer(rows), "time": .integer(columns), "wall_seconds": .number(seconds),
        ]
        if let pca = fits.pca { summary["explained_variance_ratio"] = .array(pca.explainedVarianceRatio.map { .number($0) }) }
        if let sweep = fits.sweep {
            summary["sweep"] = .array(sweep.summary.map { row in
                .object(["rank": .integer(row.rank), "train_error": .number(row.trainError),
                         "test_error": .number(row.testError), "similarity": .number(row.similarity)])
            })
        }
        reporter.summary(summary)
    }
}

/// What `nfx factorize` computed, and how it is laid out in the output file (contract: "Datasets per command").
struct FactorizeFits {
    var method: String
    var fit: FactorizationResult
    var pca: PCAResult?
    var sweep: RankSweepResult?

    func write(to file: HDF5File) throws {
        try file.root.write(fit.W.ndarray, to: "/W")
        try file.root.write(fit.H.ndarray, to: "/H")
        try file.root.write(NDArray(shape: [fit.objective.count], elements: fit.objective), to: "/objective")
        try file.root.write(NDArray(shape: [fit.relativeErrors.count], elements: fit.relativeErrors),
                            to: "/relative_error")
        if let pca {
            let k = pca.singularValues.count
            try file.root.write(NDArray(shape: [pca.mean.count], elements: pca.mean), to: "/mean")
            try file.root.write(NDArray(shape: [k], elements: pca.singularValues), to: "/singular_values")
            try file.root.write(NDArray(shape: [k], elements: pca.explainedVariance), to: "/explained_variance")
            try file.root.write(NDArray(shape: [k], elements: pca.explainedVarianceRatio),
                                to: "/explained_variance_ratio")
        }
        guard let sweep else { return }
        for fit in sweep.fits {
            let group = "/sweep/rank_\(fit.rank)/replicate_\(fit.replicate)"
            try file.root.write(fit.W.ndarray, to: "\(group)/W")
            try file.root.write(fit.H.ndarray, to: "\(group)/H")
        }
        let rows = sweep.fits.flatMap { [Double($0.rank), Double($0.replicate), $0.trainError, $0.testError, $0.similarity] }
        try file.root.write(NDArray(shape: [sweep.fits.count, 5], elements: rows), to: "/sweep/summary")
        try file.dataset("/sweep/summary").setAttribute(
            "columns", .string("rank,replicate,train_error,test_error,similarity"))
    }
}

/// Reads `--init FILE`: the /W (units × rank) and /H (rank × time) of an HDF5 file, e.g. an earlier result.
enum InitialFactorsReader {
    static func read(_ path: String) throws -> NMFInitialization {
        guard FileManager.default.fileExists(atPath: path) else {
            throw NFXError.usage("--init must be nndsvda, nndsvd, random or an HDF5 file with /W and /H; '\(path)' is none of these")
        }
        let load = { (dataset: String) -> Matrix in
            let loaded = try InputLoader.load(InputSpec(path: path, dataset: dataset), requirements: InputRequirements(
                rank: 2, axesDescription: dataset == "/W" ? "units × rank" : "rank × time", allowsNaN: false,
                timeAxis: .last))
            return Matrix(loaded.array)
        }
        return .given(W: try load("/W"), H: try load("/H"))
    }
}
