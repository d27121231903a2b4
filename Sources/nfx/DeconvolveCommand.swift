import ArgumentParser
import Deconvolution
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO

struct DeconvolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deconvolve",
        abstract: "Infer spikes from calcium fluorescence (OASIS, AR(1) or AR(2)).",
        discussion: """
        Input is neurons × frames (an NWB RoiResponseSeries is time-first and is transposed). Each trace is \
        modelled as baseline + AR(1) or AR(2) calcium + Gaussian noise and solved exactly by OASIS (Friedrich, \
        Zhou & Paninski 2017). By default g, σ and the baseline are estimated per neuron and λ is chosen so that the \
        residual matches the noise (σ²T); --g, --sigma, --baseline and --lambda override. NaN frames are bridged \
        and stay NaN in the output. Neurons run in parallel; results do not depend on --threads.

        Examples:
          nfx deconvolve calcium.h5 --s-min 0.5
          nfx deconvolve session.nwb:/processing/ophys/Fluorescence/RoiResponseSeries/data --frame-rate 30
        """
    )

    @OptionGroup var input: InputArguments

    @Option(help: "Order of the calcium model: 1 (instant rise) or 2 (finite rise).")
    var arOrder: Int = 1

    @Option(help: "Sparsity penalty: l1 (convex, OASIS' default) or l0 (greedy refinement: unbiased spike sizes).")
    var penalty: String = "l1"

    @Option(help: ArgumentHelp("AR coefficients: g for AR(1), g1,g2 for AR(2) (estimated per neuron when absent).",
                               valueName: "g"))
    var g: String?

    @Option(help: "Noise standard deviation σ (estimated per neuron when absent).")
    var sigma: Double?

    @Option(help: "Baseline (estimated per neuron, jointly with the spikes, when absent).")
    var baseline: Double?

    @Option(help: "Sparsity penalty λ (chosen per neuron from the noise when absent).")
    var lambda: Double?

    @Option(help: "Minimal spike size: after the L1 fit, spikes are found by hard thresholding (at λ = 0 unless --lambda is given), each at least this large.")
    var sMin: Double = 0

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "With --s-min (AR(1), no --lambda): refine the estimated g and baseline for the thresholded fit by its BIC; --no-refine-parameters keeps the L1 fit's, as OASIS does."))
    var refineParameters = true

    @Option(help: "Frame rate in Hz, recorded in the output (default: the input's frame_rate attribute).")
    var frameRate: Double?

    @OptionGroup var options: CommonOptions

    func validate() throws {
        guard arOrder == 1 || arOrder == 2 else { throw ValidationError("--ar-order must be 1 or 2, got \(arOrder)") }
        guard let chosen = SparsityPenalty(rawValue: penalty) else {
            throw ValidationError("--penalty must be l1 or l0, got '\(penalty)'")
        }
        if chosen == .l0 && arOrder == 2 {
            throw ValidationError("--penalty l0 is implemented for --ar-order 1 only")
        }
        if chosen == .l0 && (lambda != nil || sMin > 0) {
            throw ValidationError("--penalty l0 chooses its spikes from the noise level; it takes neither --lambda nor --s-min")
        }
        _ = try coefficients()
        if let sigma, !(sigma >= 0 && sigma.isFinite) { throw ValidationError("--sigma must be ≥ 0, got \(sigma)") }
        if let baseline, !baseline.isFinite { throw ValidationError("--baseline must be finite") }
        if let lambda, !(lambda >= 0 && lambda.isFinite) { throw ValidationError("--lambda must be ≥ 0, got \(lambda)") }
        guard sMin >= 0 && sMin.isFinite else { throw ValidationError("--s-min must be ≥ 0, got \(sMin)") }
        if let frameRate, !(frameRate > 0) { throw ValidationError("--frame-rate must be positive, got \(frameRate)") }
    }

    /// --g parsed and checked against --ar-order: AR(1) needs 0 < g < 1; AR(2) a decaying pair with real roots.
    func coefficients() throws -> [Double]? {
        guard let g else { return nil }
        let parsed = g.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parsed.count == arOrder, parsed.count == g.split(separator: ",").count, parsed.allSatisfy(\.isFinite) else {
            throw ValidationError("--g takes \(arOrder == 1 ? "one value" : "two values g1,g2") for --ar-order \(arOrder), got '\(g)'")
        }
        if arOrder == 1 {
            guard parsed[0] > 0 && parsed[0] < 1 else { throw ValidationError("--g must be in (0, 1), got \(parsed[0])") }
        } else {
            let (g1, g2) = (parsed[0], parsed[1])
            let discriminant = g1 * g1 + 4 * g2
            guard discriminant >= 0, (g1 + discriminant.squareRoot()) / 2 < 1, g2 <= 0 else {
                throw ValidationError("--g \(g) is not a decaying AR(2) with real roots (need g1² + 4 g2 ≥ 0, g2 ≤ 0, largest root < 1)")
            }
        }
        return parsed
    }

    func run() throws {
        let started = Date()
        // The analysis parallelises over neurons: OpenBLAS (unused here) must not compete for the cores.
        BLASThreads.set(1)
        let spec = input.spec
        let output = try AtomicOutput(path: options.outputPath(for: spec, command: "deconvolve"), force: options.force,
                                      inputs: [spec.path])
        let loaded = try InputLoader.load(spec, requirements: InputRequirements(
            rank: 2, axesDescription: "neurons × frames", allowsNaN: true, timeAxis: input.timeAxis))
        let neurons = loaded.array.shape[0], frames = loaded.array.shape[1]
        let rate = frameRate ?? loaded.fileAttributes["frame_rate"]?.doubleValue
        let reporter = options.reporter
        let settings = DeconvolutionOptions(penalty: SparsityPenalty(rawValue: penalty)!, arOrder: arOrder,
                                            g: try coefficients(), sigma: sigma,
                                            baseline: baseline, lambda: lambda, minimumSpike: sMin,
                                            refinesThresholdedParameters: refineParameters)
        let results = Deconvolution.deconvolve(rows: neurons, frames: frames, values: loaded.array.elements,
                                               options: settings, threads: options.threadCount)
        for (neuron, result) in results.enumerated() {
            if let warning = result.warning {
                reporter.warning("deconvolve", "neuron \(neuron): \(warning); its spikes and calcium are zero")
            }
        }

        var provenance = Provenance(command: "deconvolve", seed: options.seed, started: started)
        provenance.record(input: loaded)
        provenance.record("ar_order", arOrder)
        provenance.record("penalty", penalty)
        provenance.record("s_min", sMin)
        provenance.record("refine_parameters", refineParameters ? "true" : "false")
        provenance.record("threads", options.threadCount)
        provenance.record("g", try coefficients().map { HDF5AttributeValue.doubles($0) } ?? .string("estimated"))
        for (name, value) in [("sigma", sigma), ("baseline", baseline), ("lambda", lambda)] {
            provenance.record(name, value.map { HDF5AttributeValue.double($0) } ?? .string("estimated"))
        }
        if let rate { provenance.record("frame_rate", rate) }
        try writeOutput(output, provenance: provenance) { file in
            try file.root.write(results.flatMap(\.spikes), shape: [neurons, frames], to: "/spikes")
            try file.root.write(results.flatMap(\.calcium), shape: [neurons, frames], to: "/calcium")
            try file.root.write(results.map(\.baseline), shape: [neurons], to: "/baseline")
            try file.root.write(results.map(\.sigma), shape: [neurons], to: "/sigma")
            try file.root.write(results.map(\.lambda), shape: [neurons], to: "/lambda")
            try file.root.write(results.flatMap(\.g), shape: [neurons, arOrder], to: "/g")
        }

        let spikeTotal = results.reduce(0) { $0 + $1.spikes.reduce(0) { $0 + ($1.isNaN ? 0 : $1) } }
        let median = { (values: [Double]) -> Double in
            let sorted = values.sorted()
            return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
        }
        let fitted = results.filter { $0.warning == nil }
        reporter.result(String(format: "deconvolved %d neurons × %d frames: total spike amplitude %.1f; median g %.4f, σ %.4g, λ %.4g",
                               neurons, frames, spikeTotal, median(fitted.map { $0.g[0] }), median(fitted.map(\.sigma)),
                               median(fitted.map(\.lambda))) + (fitted.count < neurons ? "; \(neurons - fitted.count) neuron\(neurons - fitted.count == 1 ? "" : "s") not fitted" : "")
                        + " → \(output.path)")
        reporter.summary([
            "command": .string("deconvolve"), "output": .string(output.path), "neurons": .integer(neurons),
            "frames": .integer(frames), "spike_total": .number(spikeTotal), "unfitted": .integer(neurons - fitted.count),
            "median_g": .number(median(fitted.map { $0.g[0] })), "median_sigma": .number(median(fitted.map(\.sigma))),
            "wall_seconds": .number(provenance.wallSeconds),
        ])
    }
}
