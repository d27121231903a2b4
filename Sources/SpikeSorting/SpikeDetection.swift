import SparseCoding

/// From sparse codes to spikes.
enum SpikeDetection {
    /// The events of dense codes (filters × positions): per filter, non-zero codes no more than `mergeDistance`
    /// positions apart form one event — coordinate descent may split a spike that falls between samples over two
    /// neighbouring positions — placed at its largest code, with amplitude the sum of the codes. Only events
    /// placed in `keep` are returned.
    static func events(codes: [Double], filters C: Int, positions M: Int, keep: Range<Int>,
                       mergeDistance: Int) -> [CodedEvent] {
        var events: [CodedEvent] = []
        for c in 0..<C {
            var s = 0
            while s < M {
                guard codes[c * M + s] != 0 else { s += 1; continue }
                var sum = 0.0, best = s, last = s
                var t = s
                while t < M && t - last <= mergeDistance {
                    let value = codes[c * M + t]
                    if value != 0 {
                        sum += value
                        last = t
                        if value > codes[c * M + best] { best = t }
                    }
                    t += 1
                }
                if keep.contains(best) { events.append(CodedEvent(position: best, filter: c, amplitude: sum)) }
                s = last + 1
            }
        }
        return events
    }

    /// The largest |sample| of each filter (its peak, over channels) and where it lies in the filter: the trough
    /// of a negative spike, the sample spike times refer to.
    static func peaks(_ dictionary: ConvolutionalDictionary) -> (values: [Double], troughs: [Int]) {
        let (K, L) = (dictionary.channels, dictionary.length)
        var values: [Double] = [], troughs: [Int] = []
        for c in 0..<dictionary.filters {
            var best = 0.0, position = 0
            for k in 0..<K {
                for tap in 0..<L {
                    let value = abs(dictionary.weights[(c * K + k) * L + tap])
                    if value > best { (best, position) = (value, tap) }
                }
            }
            values.append(best)
            troughs.append(position)
        }
        return (values, troughs)
    }

    /// The smallest code of each filter whose waveform peak (code × the filter's peak) reaches `threshold`.
    static func minimumCodes(_ dictionary: ConvolutionalDictionary, threshold: Double) -> [Double] {
        peaks(dictionary).values.map { $0 > 0 ? threshold / $0 : .infinity }
    }

    /// `events` as spikes at their filters' troughs, in time order; with `threshold`, only those whose waveform
    /// peak (amplitude × the filter's peak) reaches it.
    static func spikes(_ events: [CodedEvent], dictionary: ConvolutionalDictionary,
                       threshold: Double? = nil) -> SortedSpikes {
        let (peaks, troughs) = peaks(dictionary)
        var kept = threshold.map { threshold in events.filter { $0.amplitude * peaks[$0.filter] >= threshold } } ?? events
        kept.sort { ($0.position + troughs[$0.filter], $0.filter) < ($1.position + troughs[$1.filter], $1.filter) }
        var spikes = SortedSpikes()
        for event in kept {
            spikes.times.append(Int64(event.position + troughs[event.filter]))
            spikes.labels.append(Int32(event.filter))
            spikes.amplitudes.append(event.amplitude)
        }
        return spikes
    }
}
