import NFXCore

/// How well learned filters match true waveforms, the score `nfx compare` reports for `cdl-train`: for every
/// (learned, true) pair, the largest normalised cross-correlation over all relative shifts (zero-padded, every
/// channel together), then filters paired with waveforms by an optimal assignment.
public enum FilterMatching {
    public struct Match: Sendable, Equatable {
        /// For each true waveform, the learned filter paired with it (nil when there are fewer filters).
        public var filterForWaveform: [Int?]
        /// For each true waveform, its score (0 when unpaired).
        public var scores: [Double]
        /// The smallest per-waveform score: every unit is learned at least this well.
        public var worst: Double { scores.min() ?? 0 }
    }

    /// `waveforms` is units × channels × length (row-major) with `channels` equal to the dictionary's. With
    /// `signAware` a filter learned with the opposite sign (possible with signed codes) counts as a match.
    public static func match(_ dictionary: ConvolutionalDictionary, waveforms: [Double], units: Int,
                             waveformLength: Int, signAware: Bool = false) -> Match {
        precondition(waveforms.count == units * dictionary.channels * waveformLength,
                     "FilterMatching: \(waveforms.count) values for \(units) × \(dictionary.channels) × \(waveformLength)")
        let F = dictionary.filters
        var scores = [Double](repeating: 0, count: units * F)
        for u in 0..<units {
            for c in 0..<F {
                scores[u * F + c] = bestShiftCorrelation(dictionary, filter: c, waveforms: waveforms, unit: u,
                                                         waveformLength: waveformLength, signAware: signAware)
            }
        }
        let pairs = OptimalAssignment.maximizing(scores: scores, rows: units, columns: F)
        return Match(filterForWaveform: pairs,
                     scores: pairs.enumerated().map { u, c in c.map { scores[u * F + $0] } ?? 0 })
    }

    static func bestShiftCorrelation(_ dictionary: ConvolutionalDictionary, filter c: Int, waveforms: [Double],
                                     unit u: Int, waveformLength W: Int, signAware: Bool) -> Double {
        let (K, L) = (dictionary.channels, dictionary.length)
        var filterNorm = 0.0, waveformNorm = 0.0
        for k in 0..<K {
            for tap in 0..<L { filterNorm += pow2(dictionary.weights[dictionary.offset(filter: c, channel: k) + tap]) }
            for tap in 0..<W { waveformNorm += pow2(waveforms[(u * K + k) * W + tap]) }
        }
        let scale = (filterNorm * waveformNorm).squareRoot()
        guard scale > 0 else { return 0 }
        var best = -Double.infinity
        // shift: filter tap `tap` aligns with waveform sample `tap + shift`.
        for shift in (-(L - 1))...(W - 1) {
            var dot = 0.0
            for k in 0..<K {
                let filter = dictionary.offset(filter: c, channel: k), waveform = (u * K + k) * W
                for tap in max(0, -shift)..<min(L, W - shift) {
                    dot += dictionary.weights[filter + tap] * waveforms[waveform + tap + shift]
                }
            }
            best = max(best, signAware ? abs(dot) : dot)
        }
        return best / scale
    }

    @inline(__always) private static func pow2(_ x: Double) -> Double { x * x }
}
