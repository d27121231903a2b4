import ArgumentParser
import Deconvolution
import Foundation
import HDF5Kit
import NFXCore
import NFXIO

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Score a result against ground truth.",
        discussion: """
        RESULT is an nfx output; TRUTH a file with a /truth group (from nfx simulate) or a ground-truth recording. \
        Scoring follows the result's command. deconvolve: per neuron, the correlation of inferred and true spikes \
        per frame and in 40 ms bins from the first frame (spikefinder, no lag), and precision, recall and F1 of \
        spike frames within ±1 frame. Other commands are scored as their analyses arrive.

        Examples:
          nfx compare calcium.deconvolve.h5 calcium.h5
          nfx compare cell.deconvolve.h5 cell.h5:/spike_count --json
        """
    )

    @Argument(help: ArgumentHelp("An nfx result file.", valueName: "result"))
    var result: String

    @Argument(help: ArgumentHelp("Ground truth: FILE (uses /truth/spikes) or FILE:DATASET.", valueName: "truth"))
    var truth: String

    @Option(help: "Frame rate in Hz (default: the frame_rate attribute of the result or the truth).")
    var frameRate: Double?

    @Option(help: "Inferred activity that counts as a spike (default: the result's s_min if set, else 0.5).")
    var spikeThreshold: Double?

    @Option(help: "Width of the correlation bins in seconds.")
    var bin: Double = 0.04

    @Flag(help: "Print one JSON line instead of the table.")
    var json = false

    func run() throws {
        try InputLoader.checkReadableFile(result)
        let resultFile: HDF5File
        do { resultFile = try HDF5File.open(result) } catch let error as HDF5Error { throw NFXError(error) }
        let command = try resultFile.root.attribute("nfx_command")?.stringValue
        guard command == "deconvolve" else {
            throw NFXError.usage("\(result) comes from '\(command ?? "no nfx command")'; compare scores deconvolve results so far")
        }
        let inferred = try InputLoader.load(InputSpec(path: result, dataset: "/spikes"), requirements:
            InputRequirements(rank: 2, axesDescription: "neurons × frames", allowsNaN: true, timeAxis: .last))
        let truthSpec = InputSpec(parsing: truth)
        let truthInput = try InputLoader.load(InputSpec(path: truthSpec.path, dataset: truthSpec.dataset ?? "/truth/spikes"),
                                              requirements: InputRequirements(rank: 2, axesDescription: "neurons × frames",
                                                                              allowsNaN: true, timeAxis: .last))
        guard inferred.array.shape == truthInput.array.shape else {
            throw NFXError.data("\(inferred.name) is \(describeShape(inferred.array.shape)) but \(truthInput.name) is \(describeShape(truthInput.array.shape))")
        }
        let rate = try frameRate ?? resultFile.root.attribute("frame_rate")?.doubleValue
            ?? truthInput.fileAttributes["frame_rate"]?.doubleValue
        guard let rate, rate > 0 else {
            throw NFXError.usage("no frame rate in \(result) or \(truthSpec.path)", hint: "pass --frame-rate HZ")
        }
        let sMin = try resultFile.root.attribute("s_min")?.doubleValue ?? 0
        let threshold = spikeThreshold ?? (sMin > 0 ? sMin : 0.5)
        let neurons = inferred.array.shape[0], frames = inferred.array.shape[1]
        let scores = (0..<neurons).map { neuron in
            SpikeScores.score(inferred: Array(inferred.array.elements[neuron * frames..<(neuron + 1) * frames]),
                              truth: Array(truthInput.array.elements[neuron * frames..<(neuron + 1) * frames]),
                              framesPerBin: bin * rate, threshold: threshold)
        }
        let mean = { (values: [Double]) -> Double in
            let finite = values.filter(\.isFinite)
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        }
        if json {
            print(JSONValue.object([
                "command": .string("compare"), "result": .string(result), "truth": .string(truthInput.name),
                "frame_rate": .number(rate), "threshold": .number(threshold),
                "frame_correlation": .array(scores.map { .number($0.frameCorrelation) }),
                "binned_correlation": .array(scores.map { .number($0.binnedCorrelation) }),
                "precision": .array(scores.map { .number($0.precision) }),
                "recall": .array(scores.map { .number($0.recall) }), "f1": .array(scores.map { .number($0.f1) }),
                "mean_frame_correlation": .number(mean(scores.map(\.frameCorrelation))),
                "mean_binned_correlation": .number(mean(scores.map(\.binnedCorrelation))),
                "mean_f1": .number(mean(scores.map(\.f1))),
            ]).encoded)
            return
        }
        print(String(format: "neuron  corr (frame)  corr (%.0f ms)  precision  recall     F1  true  found", bin * 1000))
        for (neuron, score) in scores.enumerated() {
            print(String(format: "%6d  %12.3f  %13.3f  %9.3f  %6.3f  %5.3f  %4d  %5d", neuron, score.frameCorrelation,
                         score.binnedCorrelation, score.precision, score.recall, score.f1, score.trueEvents,
                         score.detectedEvents))
        }
        print(String(format: "  mean  %12.3f  %13.3f  %9.3f  %6.3f  %5.3f", mean(scores.map(\.frameCorrelation)),
                     mean(scores.map(\.binnedCorrelation)), mean(scores.map(\.precision)),
                     mean(scores.map(\.recall)), mean(scores.map(\.f1))))
    }
}
