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
    /// otherwise the units are learned on the first `options.trainingSamples` samples — `options.units` of them,
    /// or as many as `UnitDiscovery` finds.
    public static func sort(_ recording: [Double], channels K: Int, samples N: Int,
                            dictionary given: ConvolutionalDictionary? = nil, noiseLevels: [Double]? = nil,
                            options: SpikeSortingOptions,
                            progress: ((String) -> Void)? = nil) throws(SpikeSortingError) -> SpikeSortingResult {
        try options.validate()
        precondition(recording.count == K * N, "SpikeSorter: \(recording.count) values for \(K) × \(N)")
        if let given {
            guard given.channels == K else {
                throw .invalidRecording("the dictionary has \(given.channels) channels but the recording \(K)")
            }
        }
        let length = given?.length ?? options.filterLength
        guard N >= length else {
            throw .invalidRecording("the recording has \(N) samples, fewer than one waveform (\(length))")
        }
        precondition(noiseLevels.map { $0.count == K } ?? true, "SpikeSorter: \(noiseLevels?.count ?? 0) noise levels for \(K) channels")
        let noise = noiseLevels ?? NoiseLevel.perChannel(recording, channels: K, samples: N, threads: options.threads)
        guard noise.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw .invalidRecording("channel \(noise.firstIndex { !($0 > 0 && $0.isFinite) }!) has no noise (constant or empty): nothing to sort on it")
        }
        var y = recording
        for k in 0..<K { for t in 0..<N { y[k * N + t] /= noise[k] } }

        var discovery: [String] = []
        let dictionary: ConvolutionalDictionary
        if let given {
            dictionary = given
        } else {
            let training = options.trainingSamples ?? Int(60 * options.samplingRate)
            let trainingSamples = min(N, max(training, length))
            let stretch = trainingSamples == N ? y : (0..<K).flatMap { k in y[(k * N)..<(k * N + trainingSamples)] }
            var settings = options
            settings.filterLength = length
            // The growth decides the units on a shorter stretch with a few learning iterations per step; the
            // chosen waveforms are then refined on the whole training stretch.
            let growthSamples = min(trainingSamples, max(length, Int(UnitDiscovery.growthSeconds * options.samplingRate)))
            let growthStretch = growthSamples == trainingSamples ? stretch
                : (0..<K).flatMap { k in stretch[(k * trainingSamples)..<(k * trainingSamples + growthSamples)] }
            var growthSettings = settings
            growthSettings.learningIterations = min(settings.learningIterations, UnitDiscovery.growthIterations)
            let grown = UnitDiscovery.learn(growthStretch, channels: K, samples: growthSamples, target: options.units,
                                            options: growthSettings, progress: progress)
            discovery = grown.trace
            guard let learned = grown.dictionary else {
                return SpikeSortingResult(spikes: SortedSpikes(), dictionary: ConvolutionalDictionary(
                    filters: 1, channels: K, length: length, weights: [Double](repeating: 0, count: K * length)),
                    templates: [], troughs: [], noiseLevels: noise, quality: [], discovery: discovery)
            }
            progress?("refining \(learned.filters) waveforms on \(trainingSamples) samples")
            dictionary = UnitDiscovery.learnFilters(stretch, channels: K, samples: trainingSamples,
                                                    filters: learned.filters, start: .given(learned), options: settings)
        }

        progress?("coding \(N) samples with \(dictionary.filters) units")
        let mergeDistance = mergeDistance(samplingRate: options.samplingRate)
        let coded = WindowedCoding.code(y, channels: K, samples: N, dictionary: dictionary,
                                        penalty: .l0(minimumCodes: SpikeDetection.minimumCodes(
                                            dictionary, threshold: options.threshold)),
                                        mergeDistance: mergeDistance, coreLength: options.windowLength,
                                        threads: options.threads, residual: true)
        var residual = coded.residual!
        progress?("assigning \(coded.events.count) spikes")
        let events = SpikeAssignment.refine(coded.events, residual: &residual, channels: K, samples: N,
                                            dictionary: dictionary, shiftRange: mergeDistance,
                                            threshold: options.threshold, threads: options.threads)
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

    /// Codes of one filter closer than this are one spike (0.3 ms, at least one sample).
    static func mergeDistance(samplingRate: Double) -> Int { max(1, Int((0.0003 * samplingRate).rounded())) }

    static func medianAmplitudes(_ spikes: SortedSpikes, units: Int) -> [Double] {
        var perUnit = [[Double]](repeating: [], count: units)
        for (label, amplitude) in zip(spikes.labels, spikes.amplitudes) { perUnit[Int(label)].append(amplitude) }
        return perUnit.map { $0.isEmpty ? 0 : SpikeAssignment.median($0) }
    }
}
