import ArgumentParser
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO
import SparseCoding

struct CDLTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdl-train",
        abstract: "Learn spike waveforms (filters) from an extracellular recording by convolutional dictionary learning.",
        discussion: """
        y ≈ Σ_c h_c ∗ x_c: the recording (channels × samples) as a sum of a few multichannel waveforms h_c placed at \
        sparse times x_c. Minimises ½‖y − Hx‖² + λ‖x‖₁ with ‖h_c‖ ≤ 1; codes are non-negative unless --signed-codes \
        (each waveform keeps its sign). --method crsae (the default; CRsAE) trains the filters by Adam on the \
        gradient of that objective taken through a T-step unrolled FISTA encoder, each window's encoder starting from \
        its codes at the previous epoch; --method altmin alternates sparse coding of every window (locally greedy \
        coordinate descent) with the exact constrained least-squares filter update. Filters start from \
        spike-triggered k-means (threshold crossings at --detection-threshold σ) or random data windows. λ defaults \
        to 3.5 σ, σ the median absolute deviation / 0.6745. Output: /filters (filters × channels × length, unit \
        norm, most used first), /objective.

        Examples:
          nfx cdl-train ephys.h5 --filters 3 --filter-length 45
          nfx cdl-train rec.h5:/acquisition/ElectricalSeries/data --filters 8 --filter-length 60 --lambda 4
        """
    )

    @OptionGroup var input: InputArguments

    @Option(help: "Number of filters (waveforms) to learn.")
    var filters: Int = 3

    @Option(help: "Filter length in samples (cover a whole spike: ~3–4 ms).")
    var filterLength: Int = 45

    @Option(help: "crsae (the default: unrolled FISTA encoder trained by Adam) or altmin (alternating minimisation).")
    var method: String = "crsae"

    @Option(help: "L1 penalty λ in data units (default 3.5 × the noise σ).")
    var lambda: Double?

    @Option(help: "λ as a fraction of λ_max = max Hᵀy for the starting filters (instead of --lambda).")
    var lambdaFraction: Double?

    @Flag(help: "Signed codes (a waveform may appear with either sign); default non-negative.")
    var signedCodes = false

    @Option(name: .customLong("init"),
            help: "Start: spike-triggered (k-means of threshold-crossing snippets) or random (data windows).")
    var initialization: String = "spike-triggered"

    @Option(help: "Spike-triggered start: detection threshold in noise σ.")
    var detectionThreshold: Double = 4

    @Option(help: "Iterations (altmin) or epochs (crsae) at most (exactly this many with --tol 0).")
    var maxIter: Int = 30

    @Option(help: "Stop when an iteration (crsae: an epoch) lowers the objective by less than this fraction of its decrease so far.")
    var tol: Double = 1e-3

    @Option(help: "crsae: unrolled FISTA steps of the encoder per visit of a window.")
    var unrolledSteps: Int = 60

    @Option(help: "Samples per window (recordings are coded window by window).")
    var window: Int?

    @OptionGroup var options: CommonOptions

    func validate() throws {
        guard filters >= 1 else { throw ValidationError("--filters must be at least 1, got \(filters)") }
        guard filterLength >= 2 else { throw ValidationError("--filter-length must be at least 2, got \(filterLength)") }
        guard DictionaryLearningMethod(rawValue: method) != nil else {
            throw ValidationError("--method must be crsae or altmin, got '\(method)'")
        }
        guard ["spike-triggered", "random"].contains(initialization) else {
            throw ValidationError("--init must be spike-triggered or random, got '\(initialization)'")
        }
        if let lambda, !(lambda >= 0 && lambda.isFinite) { throw ValidationError("--lambda must be ≥ 0, got \(lambda)") }
        if let lambdaFraction, !(lambdaFraction > 0 && lambdaFraction.isFinite) {
            throw ValidationError("--lambda-fraction must be positive, got \(lambdaFraction)")
        }
        if lambda != nil && lambdaFraction != nil { throw ValidationError("give --lambda or --lambda-fraction, not both") }
        guard detectionThreshold > 0 else { throw ValidationError("--detection-threshold must be positive") }
        guard maxIter >= 1 else { throw ValidationError("--max-iter must be at least 1, got \(maxIter)") }
        guard unrolledSteps >= 1 else { throw ValidationError("--unrolled-steps must be at least 1, got \(unrolledSteps)") }
        guard tol >= 0 && tol.isFinite else { throw ValidationError("--tol must be ≥ 0, got \(tol)") }
        if let window, window < filterLength { throw ValidationError("--window must be at least --filter-length") }
    }

    func run() throws {
        let started = Date()
        // Learning runs its own threads over windows; OpenBLAS's would spin beside them between the small
        // eigenproblems of the Lipschitz bound and the start's k-means.
        BLASThreads.set(1)
        let spec = input.spec
        let output = try AtomicOutput(path: options.outputPath(for: spec, command: "cdl-train"), force: options.force,
                                      inputs: [spec.path])
        let loaded = try InputLoader.load(spec, requirements: InputRequirements(
            rank: 2, axesDescription: "channels × samples", allowsNaN: false, timeAxis: input.timeAxis))
        let (channels, samples) = (loaded.array.shape[0], loaded.array.shape[1])
        var settings = DictionaryLearningOptions(
            filters: filters, length: filterLength, method: DictionaryLearningMethod(rawValue: method)!, lambda: lambda,
            nonnegative: !signedCodes,
            initialization: initialization == "random" ? .randomWindows : .spikeTriggered, maxIterations: maxIter,
            tolerance: tol, windowLength: window, detectionThreshold: detectionThreshold, unrolledSteps: unrolledSteps,
            seed: options.seed,
            threads: options.threadCount)
        settings.lambdaFraction = lambdaFraction
        let result: DictionaryLearningResult
        do {
            let reporter = options.reporter
            let unit = method == "crsae" ? "epoch" : "iteration"   // what --max-iter counts
            defer { reporter.progress("", done: false) }
            result = try DictionaryLearning.learn(recording: loaded.array.elements, channels: channels, samples: samples,
                                                  options: settings) { step in
                let objective = step.objective.map { String(format: ", objective %.6g", $0) } ?? ""
                reporter.progress(String(format: "cdl-train: %@ %d, %.0f%%%@", unit, step.iteration,
                                         100 * step.fractionDone, objective))
            }
        } catch let error as DictionaryLearningError {
            switch error {
            case .recordingTooShort: throw NFXError.data("\(loaded.name): \(error.description)")
            case .invalidOption: throw NFXError.usage(error.description)
            }
        }
        var provenance = Provenance(command: "cdl-train", seed: options.seed, started: started)
        provenance.record(input: loaded)
        provenance.record("filters", filters)
        provenance.record("filter_length", filterLength)
        provenance.record("method", method)
        provenance.record("lambda", result.lambda)
        if let lambdaFraction { provenance.record("lambda_fraction", lambdaFraction) }
        provenance.record("signed_codes", signedCodes ? 1 : 0)
        provenance.record("noise_sigma", result.noiseLevel)
        provenance.record("initialization", initialization)
        provenance.record("detection_threshold", detectionThreshold)
        provenance.record("max_iter", maxIter)
        if method == "crsae" { provenance.record("unrolled_steps", unrolledSteps) }
        if let window { provenance.record("window", window) }
        provenance.record("tol", tol)
        provenance.record("iterations", result.iterations)
        provenance.record("converged", result.converged ? 1 : 0)
        provenance.record("threads", options.threadCount)
        if let rate = loaded.fileAttributes["sampling_rate"]?.doubleValue { provenance.record("sampling_rate", rate) }
        try writeOutput(output, provenance: provenance) { file in
            try file.root.write(result.dictionary.weights, shape: [filters, channels, filterLength], to: "/filters")
            try file.root.write(result.objective, shape: [result.objective.count], to: "/objective")
        }
        options.reporter.result(String(format: "learned %d filters of %d × %d samples from %d × %d (λ %.3g = %.2f σ) in %d %@%@ → %@",
                                       filters, channels, filterLength, channels, samples, result.lambda,
                                       result.noiseLevel > 0 ? result.lambda / result.noiseLevel : 0, result.iterations,
                                       method == "crsae" ? "epochs" : "iterations",
                                       result.converged ? "" : " (not converged)", output.path))
        options.reporter.summary([
            "command": .string("cdl-train"), "output": .string(output.path), "filters": .integer(filters),
            "channels": .integer(channels), "filter_length": .integer(filterLength), "lambda": .number(result.lambda),
            "iterations": .integer(result.iterations), "converged": .bool(result.converged),
            "objective": .number(result.objective.last ?? .nan), "wall_seconds": .number(provenance.wallSeconds),
        ])
    }
}
