import NFXCore
import SparseCoding

/// Spike sorting by convolutional sparse coding (after CRsAE, Tolooshams & Ba): with one waveform per unit, the
/// sparse codes of a recording are its sorted spikes, and because the model is a sum, overlapping spikes of
/// different units are both coded.
public enum SpikeSorter {
    /// Sorts `recording` (channels × samples, already preprocessed: band-passed, and referenced and whitened if
    /// wanted). Every channel is divided by its noise σ first: `noiseLevels` when the caller has measured them
    /// (`Preprocessing` does), else `NoiseLevel.perChannel`. With `dictionary` (filters × channels × length, in
    /// those noise units, as `cdl-train` on the same preprocessed data learns it) its filters are the units;
    /// otherwise the units are found on the first `options.trainingSamples` samples — `options.units` of them,
    /// or as many as `UnitDiscovery` finds.
    public static func sort(_ recording: [Double], channels K: Int, samples N: Int,
                            dictionary given: ConvolutionalDictionary? = nil, noiseLevels: [Double]? = nil,
                            options: SpikeSortingOptions,
                            progress: ((String) -> Void)? = nil) throws(SpikeSortingError) -> SpikeSortingResult {
        precondition(recording.count == K * N, "SpikeSorter: \(recording.count) values for \(K) × \(N)")
        let length = try validate(options, channels: K, samples: N, dictionary: given)
        precondition(noiseLevels.map { $0.count == K } ?? true, "SpikeSorter: \(noiseLevels?.count ?? 0) noise levels for \(K) channels")
        let noise = noiseLevels ?? NoiseLevel.perChannel(recording, channels: K, samples: N, threads: options.threads)
        let y = try normalized(recording, channels: K, samples: N, noise: noise)
        let training = trainingLength(options, samples: N, length: length)
        let units = findUnits(y, channels: K, samples: N, trainingSamples: training, length: length, given: given,
                              options: options, progress: progress)
        return summary(units, noise: noise, channels: K, samples: N, length: length, options: options)
    }

    /// Sorts a recording too long to hold, read through `read` (samples range → channels × range.count raw
    /// values): the first `options.trainingSamples` (with a margin) are read and preprocessed together, which
    /// fits the whitening and measures the noise levels, and the units are found on them; then the recording is
    /// read, preprocessed with those, coded and assigned in pieces of `chunkSamples` from the training stretch's
    /// end (each with a margin on either side, where the filter settles and neighbouring spikes are seen, whose
    /// spikes go to the neighbour piece). Memory is the training stretch plus one piece. A recording no longer than the training stretch
    /// and its margin is processed whole, as `sort(_:...)` does after `Preprocessing.run`.
    /// Returns the result and the preprocessing that was fitted.
    public static func sort(channels K: Int, samples N: Int, samplingRate: Double, preprocessing: Preprocessing,
                            read: (Range<Int>) throws -> [Double], dictionary given: ConvolutionalDictionary? = nil,
                            options: SpikeSortingOptions, chunkSamples: Int,
                            progress: ((String) -> Void)? = nil) throws -> (result: SpikeSortingResult,
                                                                             preprocessed: PreprocessedRecording) {
        let length = try validate(options, channels: K, samples: N, dictionary: given)
        guard chunkSamples >= 1 else {
            throw SpikeSortingError.invalidOption(flag: "--chunk", message: "--chunk must hold at least one sample")
        }
        let training = trainingLength(options, samples: N, length: length)
        let margin = streamingMargin(length: length, samplingRate: samplingRate, preprocessing: preprocessing)
        let first = 0..<min(N, training + margin)
        progress?("preprocessing \(K) × \(first.count)")
        var prepared = try preprocessing.run(try read(first), channels: K, samples: first.count, samplingRate: samplingRate)
        let noise = prepared.noiseLevels
        // The preprocessed stretch is divided in place, not copied: it is the largest array the sort holds.
        var preprocessed: [Double] = []
        swap(&preprocessed, &prepared.recording)
        let y = try normalized(consume preprocessed, channels: K, samples: first.count, noise: noise)
        var units = findUnits(y, channels: K, samples: first.count, trainingSamples: training, length: length,
                              given: given, options: options, progress: progress)
        guard first.count < N, let dictionary = units.dictionary else {
            prepared.samples = N
            return (summary(units, noise: noise, channels: K, samples: N, length: length, options: options), prepared)
        }
        let troughs = SpikeDetection.peaks(dictionary).troughs
        // Every piece is assigned with the amplitude distributions of the training stretch's spikes, so the
        // pieces' spikes do not depend on where the pieces end. The training stretch's own spikes are kept (its
        // piece reaches a margin beyond it); the pieces cover the rest.
        let priors = SpikeAssignment.amplitudeDistributions(units.events, units: dictionary.filters)
        units.events = units.events.filter { $0.position + troughs[$0.filter] < training }
        let cores = stride(from: training, to: N, by: chunkSamples).map { $0..<min(N, $0 + chunkSamples) }
        for (index, core) in cores.enumerated() {
            let piece = max(0, core.lowerBound - margin)..<min(N, core.upperBound + margin)
            progress?("piece \(index + 1) of \(cores.count): samples \(core.lowerBound)..<\(core.upperBound)")
            var raw = try read(piece)
            try preprocessing.transform(&raw, channels: K, samples: piece.count, samplingRate: samplingRate,
                                        whitening: prepared.whitening)
            let pieceY = try normalized(consume raw, channels: K, samples: piece.count, noise: noise)
            let coded = codeAndAssign(pieceY, channels: K, samples: piece.count, dictionary: dictionary,
                                      options: options, priors: priors, progress: nil).events
            for event in coded where core.contains(piece.lowerBound + event.position + troughs[event.filter]) {
                units.events.append(CodedEvent(position: piece.lowerBound + event.position, filter: event.filter,
                                               amplitude: event.amplitude))
            }
        }
        prepared.samples = N
        return (summary(units, noise: noise, channels: K, samples: N, length: length, options: options), prepared)
    }

    /// Samples of margin around a streamed piece: what the preprocessing needs to settle, and four waveforms for
    /// the coding and the re-assignment of the spikes nearest the core's edge to see their neighbours.
    static func streamingMargin(length L: Int, samplingRate: Double, preprocessing: Preprocessing) -> Int {
        preprocessing.settlingMargin(samplingRate: samplingRate) + 4 * L + 2 * mergeDistance(samplingRate: samplingRate)
    }

    /// The waveform length, after checking the options, the dictionary and the recording's length.
    private static func validate(_ options: SpikeSortingOptions, channels K: Int, samples N: Int,
                                 dictionary given: ConvolutionalDictionary?) throws(SpikeSortingError) -> Int {
        try options.validate()
        if let given, given.channels != K {
            throw .invalidRecording("the dictionary has \(given.channels) channels but the recording \(K)")
        }
        let length = given?.length ?? options.filterLength
        guard N >= length else {
            throw .invalidRecording("the recording has \(N) samples, fewer than one waveform (\(length))")
        }
        return length
    }

    /// Samples the units are found on: `options.trainingSamples` (default 60 s), at least one waveform and at
    /// most the recording.
    private static func trainingLength(_ options: SpikeSortingOptions, samples N: Int, length: Int) -> Int {
        min(N, max(options.trainingSamples ?? Int(60 * options.samplingRate), length))
    }

    /// `recording` with every channel divided by its noise σ.
    private static func normalized(_ recording: consuming [Double], channels K: Int, samples N: Int,
                                   noise: [Double]) throws(SpikeSortingError) -> [Double] {
        guard noise.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw .invalidRecording("channel \(noise.firstIndex { !($0 > 0 && $0.isFinite) }!) has no noise (constant or empty): nothing to sort on it")
        }
        for k in 0..<K { for t in 0..<N { recording[k * N + t] /= noise[k] } }
        return recording
    }

    /// The units of a recording and its coded spikes.
    struct Units {
        var dictionary: ConvolutionalDictionary?
        var events: [CodedEvent]
        var discovery: [String]
    }

    /// The given dictionary, or units found on the first `trainingSamples` of `y` (noise units) and confirmed by
    /// coding all of `y`; and the coded, re-assigned spikes of `y`.
    static func findUnits(_ y: [Double], channels K: Int, samples N: Int, trainingSamples: Int, length: Int,
                          given: ConvolutionalDictionary?, options: SpikeSortingOptions,
                          progress: ((String) -> Void)?) -> Units {
        if let given {
            return Units(dictionary: given, events: codeAndAssign(y, channels: K, samples: N, dictionary: given,
                                                                  options: options, progress: progress).events,
                         discovery: [])
        }
        let stretch = trainingSamples == N ? y : (0..<K).flatMap { k in y[(k * N)..<(k * N + trainingSamples)] }
        var settings = options
        settings.filterLength = length
        let clustered = UnitDiscovery.learn(stretch, channels: K, samples: trainingSamples, target: options.units,
                                            options: settings, progress: progress)
        var discovery = clustered.trace
        let clusteredEvents = clustered.unitEvents
        guard var dictionary = clustered.dictionary else { return Units(dictionary: nil, events: [], discovery: discovery) }
        // Mean snippets carry a little of the neighbours of overlapping spikes; dictionary learning (codes, then
        // the least-squares waveforms) on part of the stretch removes that bias when asked.
        let refining = min(trainingSamples, options.refiningSamples)
        if refining >= length {
            let refineStretch = refining == trainingSamples ? stretch
                : (0..<K).flatMap { k in stretch[(k * trainingSamples)..<(k * trainingSamples + refining)] }
            progress?("refining \(dictionary.filters) waveforms on \(refining) samples")
            dictionary = UnitDiscovery.learnFilters(refineStretch, channels: K, samples: refining,
                                                    filters: dictionary.filters, start: .given(dictionary),
                                                    options: settings)
        }
        var (events, residual) = codeAndAssign(y, channels: K, samples: N, dictionary: dictionary, options: options,
                                               progress: progress)
        if options.units == nil {
            // A cluster is a unit only if, once the recording is coded with every unit, it claims at least half
            // of its own events (the rest is explained by the others), and two spikes of other units do not fit
            // a third or more of its spikes better (a cluster of two units' coincidences).
            let claimed = claimedFractions(events, dictionary: dictionary, clusteredEvents: clusteredEvents,
                                           tolerance: max(1, Int((0.0005 * options.samplingRate).rounded())))
            let overlaps = SpikeAssignment.pairExplained(events, residual: residual, channels: K, samples: N,
                                                         dictionary: dictionary,
                                                         shiftRange: mergeDistance(samplingRate: options.samplingRate))
            let kept = claimed.indices.filter { claimed[$0] >= minimumClaim && overlaps[$0] < maximumOverlapShare }
            if kept.count < dictionary.filters && !kept.isEmpty {
                for unit in claimed.indices where !kept.contains(unit) {
                    discovery.append(claimed[unit] < minimumClaim
                        ? String(format: "dropped unit %d: coding gave it %.0f%% of its %d clustered events",
                                 unit, 100 * claimed[unit], clusteredEvents[unit].count)
                        : String(format: "dropped unit %d: two spikes of other units fit %.0f%% of its spikes better",
                                 unit, 100 * overlaps[unit]))
                }
                let size = K * dictionary.length
                dictionary = ConvolutionalDictionary(filters: kept.count, channels: K, length: dictionary.length,
                                                     weights: kept.flatMap { dictionary.weights[($0 * size)..<(($0 + 1) * size)] })
                (events, residual) = codeAndAssign(y, channels: K, samples: N, dictionary: dictionary, options: options,
                                                   progress: progress)
            }
        }
        return Units(dictionary: dictionary, events: events, discovery: discovery)
    }

    /// The result from the units and their spikes: templates in the input's units, quality per unit.
    static func summary(_ units: Units, noise: [Double], channels K: Int, samples N: Int, length: Int,
                        options: SpikeSortingOptions) -> SpikeSortingResult {
        guard let dictionary = units.dictionary else {
            return SpikeSortingResult(spikes: SortedSpikes(), dictionary: ConvolutionalDictionary(
                filters: 1, channels: K, length: length, weights: [Double](repeating: 0, count: K * length)),
                templates: [], troughs: [], noiseLevels: noise, quality: [], discovery: units.discovery)
        }
        let events = units.events
        let discovery = units.discovery
        let spikes = SpikeDetection.spikes(events, dictionary: dictionary)
        let (peaks, troughs) = SpikeDetection.peaks(dictionary)
        let medians = medianAmplitudes(spikes, units: dictionary.filters)
        let L = dictionary.length
        var templates = [Double](repeating: 0, count: dictionary.filters * K * L)
        for c in 0..<dictionary.filters {
            for k in 0..<K {
                for tap in 0..<L {
                    let index = (c * K + k) * L + tap
                    templates[index] = dictionary.weights[index] * medians[c] * noise[k]
                }
            }
        }
        let duration = Double(N) / options.samplingRate
        let refractory = Int64((0.0015 * options.samplingRate).rounded())
        let quality = (0..<dictionary.filters).map { c -> UnitQuality in
            let times = zip(spikes.times, spikes.labels).filter { $0.1 == Int32(c) }.map(\.0)
            let violations = zip(times.dropFirst(), times).filter { $0 - $1 < refractory }.count
            return UnitQuality(unit: c, spikes: times.count, rate: Double(times.count) / duration,
                               refractoryViolations: times.count > 1 ? Double(violations) / Double(times.count - 1) : 0,
                               peakSNR: medians[c] * peaks[c])
        }
        return SpikeSortingResult(spikes: spikes, dictionary: dictionary, templates: templates, troughs: troughs,
                                  noiseLevels: noise, quality: quality, discovery: discovery)
    }

    /// Codes `y` with `dictionary` (L0, windows) and re-assigns the coded spikes (`SpikeAssignment`).
    static func codeAndAssign(_ y: [Double], channels K: Int, samples N: Int, dictionary: ConvolutionalDictionary,
                              options: SpikeSortingOptions, priors: (centres: [Double], spreads: [Double])? = nil,
                              progress: ((String) -> Void)?) -> (events: [CodedEvent], residual: [Double]) {
        progress?("coding \(N) samples with \(dictionary.filters) units")
        let mergeDistance = mergeDistance(samplingRate: options.samplingRate)
        let coded = WindowedCoding.code(y, channels: K, samples: N, dictionary: dictionary,
                                        minimumCodes: SpikeDetection.minimumCodes(dictionary, threshold: options.threshold),
                                        mergeDistance: mergeDistance, coreLength: options.windowLength,
                                        threads: options.threads)
        var residual = coded.residual
        progress?("assigning \(coded.events.count) spikes")
        let events = SpikeAssignment.refine(coded.events, residual: &residual, channels: K, samples: N,
                                            dictionary: dictionary, shiftRange: mergeDistance,
                                            threshold: options.threshold, threads: options.threads, priors: priors)
        return (events, residual)
    }

    /// The fewest of its clustered events a unit must be given by the coding, and the largest share of its
    /// spikes two other units may explain better.
    static let minimumClaim = 0.5
    static let maximumOverlapShare = 1.0 / 3

    /// Per unit, the fraction of its clustered events' troughs within `tolerance` of one of its coded spikes.
    static func claimedFractions(_ events: [CodedEvent], dictionary: ConvolutionalDictionary, clusteredEvents: [[Int]],
                                 tolerance: Int) -> [Double] {
        let spikes = SpikeDetection.spikes(events, dictionary: dictionary)
        var times = [[Int]](repeating: [], count: dictionary.filters)
        for (time, label) in zip(spikes.times, spikes.labels) { times[Int(label)].append(Int(time)) }
        return clusteredEvents.indices.map { unit in
            let coded = times[unit]
            guard !clusteredEvents[unit].isEmpty else { return 1 }
            var index = 0, claimed = 0
            for event in clusteredEvents[unit] {
                while index < coded.count && coded[index] < event - tolerance { index += 1 }
                if index < coded.count && coded[index] <= event + tolerance { claimed += 1 }
            }
            return Double(claimed) / Double(clusteredEvents[unit].count)
        }
    }

    /// Codes of one filter closer than this are one spike (0.3 ms, at least one sample).
    static func mergeDistance(samplingRate: Double) -> Int { max(1, Int((0.0003 * samplingRate).rounded())) }

    static func medianAmplitudes(_ spikes: SortedSpikes, units: Int) -> [Double] {
        var perUnit = [[Double]](repeating: [], count: units)
        for (label, amplitude) in zip(spikes.labels, spikes.amplitudes) { perUnit[Int(label)].append(amplitude) }
        return perUnit.map { $0.isEmpty ? 0 : SpikeAssignment.median($0) }
    }
}
