import ArgumentParser
import Deconvolution
import Factorization
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO
import SparseCoding
import SpikeSorting
import TensorDecomposition

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Score a result against ground truth.",
        discussion: """
        RESULT is an nfx output; TRUTH a file with a /truth group (from nfx simulate) or a ground-truth recording. \
        Scoring follows the result's command. deconvolve: per neuron, the correlation of inferred and true spikes \
        per frame and in 40 ms bins from the first frame (spikefinder, no lag), and precision, recall and F1 of \
        spike frames within ±1 frame. factorize: components are paired with the truth's /truth/W, /truth/H by an \
        optimal assignment; per pair the cosine of the loadings (W columns) and of the activities (H rows), and the \
        similarity score (mean over the larger rank of the products of the two cosines; 1 is a perfect recovery).

        Examples:
          nfx compare calcium.deconvolve.h5 calcium.h5
          nfx compare rec.factorize.h5 rec.h5
          nfx compare cell.deconvolve.h5 cell.h5:/spike_count --json
        """
    )

    @Argument(help: ArgumentHelp("An nfx result file.", valueName: "result"))
    var result: String

    @Argument(help: ArgumentHelp("Ground truth: FILE (uses /truth/spikes) or FILE:DATASET.", valueName: "truth"))
    var truth: String

    @Option(help: "Frame rate in Hz, or the sampling rate for spikesort results (default: the result's or the truth's frame_rate / sampling_rate attribute).")
    var frameRate: Double?

    @Option(help: "Inferred activity that counts as a spike (default: the result's s_min if set, else 0.5).")
    var spikeThreshold: Double?

    @Option(help: "Width of the correlation bins in seconds.")
    var bin: Double = 0.04

    @Flag(help: "cdl-train: a filter learned with the opposite sign also matches (signed codes).")
    var signAware = false

    @Flag(help: "Print one JSON line instead of the table.")
    var json = false

    func run() throws {
        try InputLoader.checkReadableFile(result)
        let resultFile: HDF5File
        do { resultFile = try HDF5File.open(result) } catch let error as HDF5Error { throw NFXError(error) }
        let command = try resultFile.root.attribute("nfx_command")?.stringValue
        switch command {
        case "deconvolve": try compareDeconvolution(resultFile)
        case "factorize": try compareFactorization()
        case "tca": try compareTCA(resultFile)
        case "cdl-train": try compareFilters()
        case "spikesort": try compareSorting(resultFile)
        default:
            throw NFXError.usage("\(result) comes from '\(command ?? "no nfx command")'; compare scores deconvolve, factorize, tca, cdl-train and spikesort results")
        }
    }

    /// Loadings and activities of a factorize result against the planted /truth/W and /truth/H.
    private func compareFactorization() throws {
        let load = { (path: String, dataset: String) throws -> Matrix in
            Matrix(try InputLoader.load(InputSpec(path: path, dataset: dataset), requirements: InputRequirements(
                rank: 2, axesDescription: "a factor matrix", allowsNaN: false, timeAxis: .last)).array)
        }
        let truthPath = InputSpec(parsing: truth).path
        let (W, H) = (try load(result, "/W"), try load(result, "/H"))
        let (trueW, trueH) = (try load(truthPath, "/truth/W"), try load(truthPath, "/truth/H"))
        guard W.rows == trueW.rows, H.columns == trueH.columns else {
            throw NFXError.data("\(result) is \(W.rows) units × \(H.columns) time points but \(truthPath) is \(trueW.rows) × \(trueH.columns)")
        }
        let loadings = ComponentSimilarity.cosineMatrix(W, trueW)
        let activities = ComponentSimilarity.cosineMatrix(H.transposed, trueH.transposed)
        let products = zip(loadings, activities).map { $0 * $1 }
        let pairs = OptimalAssignment.maximizing(scores: products, rows: W.columns, columns: trueW.columns)
        let similarity = ComponentSimilarity.score(W: W, H: H, W: trueW, H: trueH)
        let matched = pairs.enumerated().compactMap { component, truthComponent in
            truthComponent.map { (component, $0, loadings[component * trueW.columns + $0],
                                  activities[component * trueW.columns + $0]) }
        }
        if json {
            print(JSONValue.object([
                "command": .string("compare"), "result": .string(result), "truth": .string(truthPath),
                "similarity": .number(similarity), "rank": .integer(W.columns), "true_rank": .integer(trueW.columns),
                "matched_truth": .array(pairs.map { $0.map { .integer($0) } ?? .null }),
                "loading_cosine": .array(matched.map { .number($0.2) }),
                "activity_cosine": .array(matched.map { .number($0.3) }),
            ]).encoded)
            return
        }
        print("component  truth  cos W   cos H")
        for (component, truthComponent, loading, activity) in matched {
            print(String(format: "%9d  %5d  %6.3f  %6.3f", component, truthComponent, loading, activity))
        }
        print(String(format: "similarity %.4f (rank %d, true rank %d)", similarity, W.columns, trueW.columns))
    }

    /// A tca result against the planted /truth/factors/mode0..2 (their scale gives the true weights).
    private func compareTCA(_ resultFile: HDF5File) throws {
        let found = try TCAFits.readResult(resultFile, group: "")
        let truthPath = InputSpec(parsing: truth).path
        try InputLoader.checkReadableFile(truthPath)
        let truthFile: HDF5File
        do { truthFile = try HDF5File.open(truthPath) } catch let error as HDF5Error { throw NFXError(error) }
        var planted: [Matrix] = []
        while truthFile.contains("/truth/factors/mode\(planted.count)") {
            planted.append(Matrix(try truthFile.dataset("/truth/factors/mode\(planted.count)").read(as: Double.self)))
        }
        guard planted.count == found.factors.count, zip(planted, found.factors).allSatisfy({ $0.rows == $1.rows }) else {
            throw NFXError.data("\(truthPath) has no /truth/factors/mode0..\(found.factors.count - 1) matching \(result)'s shape \(found.factors.map(\.rows))")
        }
        let rank = planted[0].columns
        var weights = [Double](repeating: 1, count: rank)
        for mode in planted.indices {
            for r in 0..<rank {
                let norm = (0..<planted[mode].rows).reduce(0.0) { $0 + planted[mode][$1, r] * planted[mode][$1, r] }.squareRoot()
                weights[r] *= norm
                for i in 0..<planted[mode].rows { planted[mode][i, r] /= norm > 0 ? norm : 1 }
            }
        }
        let similarity = KruskalSimilarity.score(factors: found.factors, weights: found.weights, factors: planted,
                                                 weights: weights)
        if json {
            print(JSONValue.object([
                "command": .string("compare"), "result": .string(result), "truth": .string(truthPath),
                "similarity": .number(similarity), "rank": .integer(found.rank), "true_rank": .integer(rank),
            ]).encoded)
            return
        }
        print(String(format: "similarity %.4f (rank %d, true rank %d; Williams et al. 2018: factor cosines × weight agreement)",
                     similarity, found.rank, rank))
    }

    /// Learned filters against the planted /truth/waveforms: best normalised cross-correlation over shifts,
    /// filters paired with waveforms by an optimal assignment.
    private func compareFilters() throws {
        let load = { (path: String, dataset: String) throws -> NDArray<Double> in
            try InputLoader.load(InputSpec(path: path, dataset: dataset), requirements: InputRequirements(
                rank: 3, axesDescription: "count × channels × samples", allowsNaN: false, timeAxis: .last)).array
        }
        let truthPath = InputSpec(parsing: truth).path
        let filters = try load(result, "/filters"), waveforms = try load(truthPath, "/truth/waveforms")
        guard filters.shape[1] == waveforms.shape[1] else {
            throw NFXError.data("\(result) has \(filters.shape[1]) channels but \(truthPath) has \(waveforms.shape[1])")
        }
        let dictionary = ConvolutionalDictionary(filters: filters.shape[0], channels: filters.shape[1],
                                                 length: filters.shape[2], weights: filters.elements)
        let match = FilterMatching.match(dictionary, waveforms: waveforms.elements, units: waveforms.shape[0],
                                         waveformLength: waveforms.shape[2], signAware: signAware)
        if json {
            print(JSONValue.object([
                "command": .string("compare"), "result": .string(result), "truth": .string(truthPath),
                "scores": .array(match.scores.map { .number($0) }), "worst": .number(match.worst),
                "filter_for_unit": .array(match.filterForWaveform.map { $0.map { .integer($0) } ?? .null }),
            ]).encoded)
            return
        }
        print("unit  filter  match")
        for (unit, score) in match.scores.enumerated() {
            print(String(format: "%4d  %6@  %5.3f", unit, match.filterForWaveform[unit].map { "\($0)" } ?? "-", score))
        }
        print(String(format: "worst unit %.4f (max normalised cross-correlation over shifts)", match.worst))
    }

    /// Sorted spikes against /truth/spike_times and /truth/spike_labels, scored as SpikeInterface's
    /// `compare_sorter_to_ground_truth` does (±0.4 ms, Hungarian pairing on agreement ≥ 0.5).
    private func compareSorting(_ resultFile: HDF5File) throws {
        let truthPath = InputSpec(parsing: truth).path
        try InputLoader.checkReadableFile(truthPath)
        let read = { (file: HDF5File, path: String, name: String) throws -> (times: [Int64], labels: [Int32]) in
            do {
                let times = try file.dataset("\(path)spike_times").read(as: Int64.self).elements
                let labels = try file.dataset("\(path)spike_labels").read(as: Int32.self).elements
                return (times, labels)
            } catch let error as HDF5Error {
                throw NFXError(error)
            }
        }
        let truthFile: HDF5File
        do { truthFile = try HDF5File.open(truthPath) } catch let error as HDF5Error { throw NFXError(error) }
        let sorted = try read(resultFile, "/", result), expected = try read(truthFile, "/truth/", truthPath)
        guard let rate = try frameRate ?? resultFile.root.attribute("sampling_rate")?.doubleValue
                ?? truthFile.root.attribute("sampling_rate")?.doubleValue else {
            throw NFXError.usage("no sampling_rate attribute in \(result) or \(truthPath); give --frame-rate HZ")
        }
        let comparison: GroundTruthComparison
        do {
            comparison = try GroundTruthComparison(truthSamples: expected.times, truthLabels: expected.labels,
                                                   sortedSamples: sorted.times, sortedLabels: sorted.labels,
                                                   samplingRate: rate)
        } catch {
            throw NFXError.data("\(result) against \(truthPath): \(error.description)")
        }
        let scores = comparison.unitScores
        let mean = scores.isEmpty ? 0 : scores.reduce(0) { $0 + $1.accuracy } / Double(scores.count)
        if json {
            print(JSONValue.object([
                "command": .string("compare"), "result": .string(result), "truth": .string(truthPath),
                "accuracy": .array(scores.map { .number($0.accuracy) }),
                "precision": .array(scores.map { .number($0.precision) }),
                "recall": .array(scores.map { .number($0.recall) }),
                "matched_unit": .array(scores.map { $0.matchedSortedUnit.map { .integer(Int($0)) } ?? .null }),
                "mean_accuracy": .number(mean), "well_detected": .integer(comparison.wellDetectedCount),
                "sorted_units": .integer(comparison.sortedUnits.count),
            ]).encoded)
            return
        }
        print("truth unit  sorted unit  spikes     tp     fn     fp  accuracy  precision  recall")
        for unit in scores {
            print(String(format: "%10d  %11@  %6d  %5d  %5d  %5d  %8.3f  %9.3f  %6.3f", unit.truthUnit,
                         unit.matchedSortedUnit.map { "\($0)" } ?? "-", unit.truthSpikeCount, unit.truePositives,
                         unit.falseNegatives, unit.falsePositives, unit.accuracy, unit.precision, unit.recall))
        }
        print(String(format: "mean accuracy %.4f; %d of %d units well detected (accuracy ≥ 0.8); %d sorted units "
                     + "(SpikeInterface's convention: ±%.1f ms, Hungarian pairing on agreement ≥ 0.5)",
                     mean, comparison.wellDetectedCount, scores.count, comparison.sortedUnits.count,
                     comparison.options.deltaTimeMilliseconds))
    }

    private func compareDeconvolution(_ resultFile: HDF5File) throws {
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
