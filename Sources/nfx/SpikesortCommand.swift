import ArgumentParser
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO
import SparseCoding
import SpikeSorting

struct SpikesortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spikesort",
        abstract: "Find and label the spikes of an extracellular recording by sparse coding with learned waveforms.",
        discussion: """
        The recording (channels × samples) is band-passed (Butterworth, zero-phase), optionally median-referenced, \
        whitened across channels, and divided by each channel's noise σ (MAD / 0.6745). Every unit is one waveform \
        (a filter, channels × length); the recording is coded as a sum of waveforms at sparse times, so \
        overlapping spikes of different units are both found. Waveforms come from --dictionary (a cdl-train or \
        spikesort output's /filters) or are found on the first --training seconds: threshold crossings (troughs \
        below −--threshold σ) are clustered (k-means, then clusters merged while they are one mode of the data), \
        and each cluster's mean spike is a unit's waveform (--filters N fixes the count). A \
        spike is kept when its waveform's peak reaches --threshold σ; its time is the sample of the waveform's \
        largest-magnitude sample (the trough of a negative spike). Output: /spike_times (int64 samples), \
        /spike_labels (int32), /amplitudes, /templates (units × channels × length, input units), /filters, \
        /noise_levels, /unit_quality.

        Examples:
          nfx spikesort rec.h5
          nfx spikesort rec.h5 --dictionary rec.cdl-train.h5 --threshold 5
          nfx spikesort probe.nwb:/acquisition/ElectricalSeries/data --sampling-rate 30000 --phy phy-out
        """
    )

    /// The most values (channels × samples) of one streamed piece: 2²⁵ doubles, 256 MiB per copy.
    static let pieceValues = 1 << 25

    @OptionGroup var input: InputArguments

    @Option(help: "Sampling rate in Hz (default: the file's sampling_rate attribute).")
    var samplingRate: Double?

    @Option(help: ArgumentHelp("Waveforms to sort with: an nfx file with /filters (cdl-train or spikesort output), or FILE:DATASET for any units × channels × length dataset (e.g. a simulation's /truth/waveforms).",
                               valueName: "file"))
    var dictionary: String?

    @Option(help: "Number of units to learn (default: chosen from the data).")
    var filters: Int?

    @Option(help: "Waveform length in samples when learning (default: 3 ms).")
    var filterLength: Int?

    @Option(help: "A spike's waveform peak must reach this many noise σ.")
    var threshold: Double = 4

    @Option(help: "L1 penalty of the --refine dictionary learning, in noise σ.")
    var lambda: Double = 3.5

    @Option(help: "Most units the clustering may keep.")
    var maxUnits: Int = 16

    @Option(help: "Least firing rate (Hz, on the training stretch) of a unit worth keeping.")
    var minRate: Double = 0.1

    @Option(help: "Seconds from the start of the recording the units are found on.")
    var training: Double = 60

    @Option(help: "Seconds of the training stretch on which dictionary learning refines the clusters' mean spikes (0: use the means).")
    var refine: Double = 0

    @Option(help: "Dictionary-learning iterations of --refine.")
    var maxIter: Int = 30

    @Option(help: "Seconds per piece when the recording is longer than --training: it is read, filtered, coded and assigned piece by piece, so memory stays bounded.")
    var chunk: Double = 60

    @Option(help: ArgumentHelp("Band-pass edges in Hz.", valueName: "low-high"))
    var band: String = "\(Int(Preprocessing.defaultLow))-\(Int(Preprocessing.defaultHigh))"

    @Flag(help: "Skip the band-pass (the data is already filtered).")
    var noFilter = false

    @Option(help: "Butterworth order of the band's upper edge (a low-pass), applied forward and backward.")
    var filterOrder: Int = Preprocessing.defaultFilterOrder

    @Option(help: "Butterworth order of the band's lower edge (a high-pass): low keeps the spikes' shape; --band 300-6000 --low-edge-order 5 is SpikeInterface's bandpass_filter.")
    var lowEdgeOrder: Int = Preprocessing.defaultLowEdgeOrder

    @Flag(help: "Subtract the median over channels at every sample (for probes with many channels).")
    var commonReference = false

    @Flag(help: "Do not whiten across channels.")
    var noWhitening = false

    @Option(help: "Samples per coding window (recordings are coded window by window with overlap; default 32,768 or 8 waveforms).")
    var window: Int?

    @Option(help: ArgumentHelp("Also write the files the phy GUI opens into this folder.", valueName: "dir"))
    var phy: String?

    @OptionGroup var options: CommonOptions

    func validate() throws {
        if let samplingRate, !(samplingRate > 0 && samplingRate.isFinite) {
            throw ValidationError("--sampling-rate must be positive, got \(samplingRate)")
        }
        if let filters, filters < 1 { throw ValidationError("--filters must be at least 1, got \(filters)") }
        if let filterLength, filterLength < 2 { throw ValidationError("--filter-length must be at least 2, got \(filterLength)") }
        guard threshold > 0 && threshold.isFinite else { throw ValidationError("--threshold must be positive, got \(threshold)") }
        guard lambda >= 0 && lambda.isFinite else { throw ValidationError("--lambda must be ≥ 0, got \(lambda)") }
        guard maxUnits >= 1 else { throw ValidationError("--max-units must be at least 1, got \(maxUnits)") }
        guard minRate >= 0 && minRate.isFinite else { throw ValidationError("--min-rate must be ≥ 0, got \(minRate)") }
        guard training > 0 else { throw ValidationError("--training must be positive, got \(training)") }
        guard chunk > 0 && chunk.isFinite else { throw ValidationError("--chunk must be positive, got \(chunk)") }
        guard refine >= 0 && refine.isFinite else { throw ValidationError("--refine must be ≥ 0 seconds, got \(refine)") }
        guard maxIter >= 1 else { throw ValidationError("--max-iter must be at least 1, got \(maxIter)") }
        guard filterOrder >= 1 else { throw ValidationError("--filter-order must be at least 1, got \(filterOrder)") }
        guard lowEdgeOrder >= 1 else { throw ValidationError("--low-edge-order must be at least 1, got \(lowEdgeOrder)") }
        _ = try bandEdges()
        if let window, window < 2 { throw ValidationError("--window must be at least 2, got \(window)") }
        if dictionary != nil && (filters != nil || filterLength != nil) {
            throw ValidationError("--filters and --filter-length are for learning; a --dictionary fixes both")
        }
    }

    func bandEdges() throws -> (low: Double, high: Double) {
        let parts = band.split(separator: "-").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low > 0, high > low else {
            throw ValidationError("--band must be LOW-HIGH in Hz with 0 < LOW < HIGH, got '\(band)'")
        }
        return (low, high)
    }

    func run() throws {
        let started = Date()
        // The sorter runs its own threads (filter channels, coding windows, runs of spikes); OpenBLAS's would
        // spin beside them between the few small products it computes.
        BLASThreads.set(1)
        let spec = input.spec
        let output = try AtomicOutput(path: options.outputPath(for: spec, command: "spikesort"), force: options.force,
                                      inputs: [spec.path])
        if let phy { try PhyExport.checkDestination(URL(fileURLWithPath: phy), force: options.force, inputs: [spec.path]) }
        let loaded = try RecordingReader(spec, requirements: InputRequirements(
            rank: 2, axesDescription: "channels × samples", allowsNaN: false, timeAxis: input.timeAxis))
        let (channels, samples) = (loaded.channels, loaded.samples)
        guard let rate = samplingRate ?? loaded.fileAttributes["sampling_rate"]?.doubleValue else {
            throw NFXError.usage("\(loaded.name): no sampling_rate attribute in the file; give --sampling-rate HZ")
        }
        let given = try dictionary.map { try loadDictionary($0, channels: channels) }
        let length = given?.length ?? filterLength ?? max(2, Int((0.003 * rate).rounded()))
        let (low, high) = try bandEdges()
        let reporter = options.reporter

        let preprocessing = Preprocessing(low: low, high: high, filterOrder: filterOrder, lowEdgeOrder: lowEdgeOrder,
                                          bandPass: !noFilter,
                                          commonMedianReference: commonReference,
                                          whitening: !noWhitening && channels > 1, threads: options.threadCount)
        let settings = SpikeSortingOptions(
            samplingRate: rate, filterLength: length, threshold: threshold, lambda: lambda, units: filters,
            maximumUnits: maxUnits, minimumRate: minRate, trainingSamples: Int((training * rate).rounded()),
            refiningSamples: Int((refine * rate).rounded()), learningIterations: maxIter,
            windowLength: window ?? max(1 << 15, 8 * length), seed: options.seed, threads: options.threadCount)
        // Pieces of at most --chunk seconds and at most `Self.pieceValues` values, so memory stays bounded
        // whatever the number of channels.
        let chunkSamples = max(1, min(Int((chunk * rate).rounded()), Self.pieceValues / channels))
        var result: SpikeSortingResult
        let whitening: SpatialWhitening?
        do {
            let sorted = try SpikeSorter.sort(channels: channels, samples: samples, samplingRate: rate,
                                              preprocessing: preprocessing, read: { try loaded.read($0) },
                                              dictionary: given, options: settings, chunkSamples: chunkSamples,
                                              progress: { reporter.progress("spikesort: \($0)") })
            (result, whitening) = (sorted.result, sorted.preprocessed.whitening)
        } catch {
            throw sortingError(error, input: loaded.name)
        }
        reporter.progress("spikesort: done", done: true)
        // Templates in the input's units: undo the whitening (the sorter already undid the noise scaling).
        if let whitening {
            result.templates = SpatialWhitening.mixingChannels(whitening.inverse, of: result.templates,
                                                               count: result.dictionary.filters,
                                                               length: result.dictionary.length)
        }

        var provenance = Provenance(command: "spikesort", seed: options.seed, started: started)
        provenance.record(input: loaded)
        provenance.record("sampling_rate", rate)
        if let dictionary { provenance.record("dictionary", dictionary) }
        provenance.record("filters", result.dictionary.filters)
        provenance.record("filter_length", result.dictionary.length)
        provenance.record("threshold", threshold)
        provenance.record("lambda", lambda)
        provenance.record("max_units", maxUnits)
        provenance.record("min_rate", minRate)
        provenance.record("training", training)
        provenance.record("refine", refine)
        provenance.record("chunk", chunk)
        provenance.record("max_iter", maxIter)
        provenance.record("band", noFilter ? "none" : band)
        provenance.record("filter_order", filterOrder)
        provenance.record("low_edge_order", lowEdgeOrder)
        provenance.record("common_reference", commonReference ? 1 : 0)
        provenance.record("whitening", whitening != nil ? 1 : 0)
        provenance.record("window", window ?? max(1 << 15, 8 * result.dictionary.length))
        provenance.record("threads", options.threadCount)
        if !result.discovery.isEmpty { provenance.record("unit_discovery", result.discovery.joined(separator: "\n")) }
        let spikes = result.spikes
        let units = result.dictionary.filters
        let L = result.dictionary.length
        try writeOutput(output, provenance: provenance) { file in
            try file.root.write(spikes.times, shape: [spikes.count], to: "/spike_times")
            try file.root.write(spikes.labels, shape: [spikes.count], to: "/spike_labels")
            try file.root.write(spikes.amplitudes, shape: [spikes.count], to: "/amplitudes")
            try file.root.write(result.templates, shape: [units, channels, L], to: "/templates")
            try file.root.write(result.dictionary.weights, shape: [units, channels, L], to: "/filters")
            try file.root.write(result.noiseLevels, shape: [channels], to: "/noise_levels")
            try file.root.write(result.quality.flatMap { [Double($0.spikes), $0.rate, $0.refractoryViolations, $0.peakSNR] },
                                shape: [units, 4], to: "/unit_quality")
        }
        if let phy {
            // The traces as the sorter saw them, preprocessed again piece by piece (with a margin for the filter).
            let margin = preprocessing.settlingMargin(samplingRate: rate)
            let traces = PhyExport.Recording(channels: channels, samples: samples, whitening: whitening) { range in
                let piece = max(0, range.lowerBound - margin)..<min(samples, range.upperBound + margin)
                var values = try loaded.read(piece)
                try preprocessing.transform(&values, channels: channels, samples: piece.count, samplingRate: rate,
                                            whitening: whitening)
                let offset = range.lowerBound - piece.lowerBound
                return (0..<channels).flatMap { k in
                    values[(k * piece.count + offset)..<(k * piece.count + offset + range.count)]
                }
            }
            try PhyExport.write(result, recording: traces,
                                to: URL(fileURLWithPath: phy), samplingRate: rate,
                                channelPositions: channelPositions(loaded, channels: channels),
                                highPassFiltered: !noFilter, force: options.force, inputs: [spec.path])
        }

        reporter.result(String(format: "%d spikes of %d units in %d × %d (%.1f s at %g Hz) → %@", spikes.count, units,
                               channels, samples, Double(samples) / rate, rate, output.path))
        if !options.quiet && !options.json {
            print("unit  spikes  rate (Hz)  ISI < 1.5 ms  peak SNR")
            for unit in result.quality {
                print(String(format: "%4d  %6d  %9.2f  %11.2f%%  %8.1f", unit.unit, unit.spikes, unit.rate,
                             100 * unit.refractoryViolations, unit.peakSNR))
            }
        }
        reporter.summary([
            "command": .string("spikesort"), "output": .string(output.path), "units": .integer(units),
            "spikes": .integer(spikes.count), "channels": .integer(channels), "samples": .integer(samples),
            "sampling_rate": .number(rate), "wall_seconds": .number(provenance.wallSeconds),
            "unit_spikes": .array(result.quality.map { .integer($0.spikes) }),
            "unit_snr": .array(result.quality.map { .number($0.peakSNR) }),
        ])
    }

    /// Channel positions (µm) from the input file's /channel_locations (channels × 2), when it has one.
    private func channelPositions(_ loaded: RecordingReader, channels: Int) -> [[Double]]? {
        guard loaded.format == .hdf5,
              let locations = try? HDF5File.open(loaded.file).dataset("/channel_locations").read(as: Double.self),
              locations.shape.count == 2, locations.shape[0] == channels, locations.shape[1] >= 2 else { return nil }
        return (0..<channels).map { k in [locations.elements[k * locations.shape[1]], locations.elements[k * locations.shape[1] + 1]] }
    }

    /// The /filters of an nfx output (or the dataset named as PATH:DATASET) as a dictionary for `channels`
    /// channels.
    private func loadDictionary(_ argument: String, channels: Int) throws -> ConvolutionalDictionary {
        let spec = InputSpec(parsing: argument)
        let path = spec.path
        let filters = try InputLoader.load(InputSpec(path: path, dataset: spec.dataset ?? "/filters"), requirements: InputRequirements(
            rank: 3, axesDescription: "filters × channels × length", allowsNaN: false, timeAxis: .last)).array
        guard filters.shape[1] == channels else {
            throw NFXError.data("\(path):\(spec.dataset ?? "/filters") has \(filters.shape[1]) channels but the recording has \(channels)",
                                hint: "use waveforms learned on the same probe")
        }
        var dictionary = ConvolutionalDictionary(filters: filters.shape[0], channels: channels, length: filters.shape[2],
                                                 weights: filters.elements)
        guard dictionary.norms.allSatisfy({ $0 > 0 }) else {
            throw NFXError.data("\(path):\(spec.dataset ?? "/filters") has an all-zero filter")
        }
        dictionary.projectOntoUnitBall(exactly: true)
        return dictionary
    }

    private func sortingError(_ error: Error, input: String) -> NFXError {
        guard let error = error as? SpikeSortingError else { return NFXError.wrapping(error) }
        switch error {
        case .invalidOption, .nonPositiveSamplingRate: return NFXError.usage(error.description)
        default: return NFXError.data("\(input): \(error.description)")
        }
    }
}
