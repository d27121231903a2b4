import Foundation
import NFXCore
import SparseCoding

/// A second look at every coded spike, for units whose waveforms differ less in shape than in size.
///
/// Unit-norm filters make the codes blind to amplitude, yet neighbouring units of one electrode often differ
/// mostly in amplitude (shapes of units on one channel correlate at 0.97 or more). So each spike is re-assigned
/// to the unit and shift (±`shiftRange` samples) of highest likelihood under a Gaussian model in noise units: the
/// fit of the unit's waveform, −½·a², a the least-squares amplitude, plus the log-density of a under the unit's
/// amplitude distribution N(m, s²), m the median of its spikes' amplitudes and s their spread (1.4826 × MAD, at
/// least `minimumSpread`). The data seen is the residual with the spike's current waveform added back, so
/// neighbouring spikes stay subtracted; the residual follows every change, in time order. Kilosort's templates
/// carry an amplitude prior for the same reason.
///
/// Overlapping spikes are where greedy coding goes wrong: two spikes a fraction of a waveform apart get coded as
/// one spike between them, or as two spikes of the wrong units whose sum looks like the right pair's (refitting
/// one spike with the other fixed cannot leave such a pair). So two coded spikes within half a waveform, and a
/// single spike that leaves more than noise behind or has an amplitude its unit rarely has, are solved jointly:
/// every pair of units at every pair of nearby positions, amplitudes by least squares (`Fitter.bestPair`),
/// against the best single spike, the second spike paying the L0 cost the coding charges.
enum SpikeAssignment {
    /// The amplitude spread below which no unit's prior is trusted: the projection noise of a unit-norm filter
    /// on unit-variance noise is 1.
    static let minimumSpread = 1.0
    /// A single spike whose amplitude is this many spreads from its unit's typical one may be two overlapping.
    static let suspiciousAmplitude = 2.5

    static func refine(_ events: [CodedEvent], residual: inout [Double], channels K: Int, samples N: Int,
                       dictionary: ConvolutionalDictionary, shiftRange D: Int, threshold: Double,
                       rounds: Int = 2, threads: Int = 1,
                       priors: (centres: [Double], spreads: [Double])? = nil) -> [CodedEvent] {
        var events = events
        // One fitter for the whole call: its filters' cross products are computed once; each run gets a copy
        // with its own stretch length.
        let template = Fitter(dictionary, samples: N, shiftRange: D)
        let troughs = template.troughs
        let trough = { @Sendable (event: CodedEvent) in event.position + troughs[event.filter] }
        let margin = reach(length: dictionary.length, shiftRange: D)
        for _ in 0..<rounds {
            let (centres, spreads) = priors ?? amplitudeDistributions(events, units: dictionary.filters)
            events.sort { (trough($0), $0.filter) < (trough($1), $1.filter) }
            // Spikes more than two reaches apart never see each other's changes, so runs of events separated by
            // such gaps are refined concurrently, each on its own copy of its stretch of the residual: the result
            // is the sequential one, whatever the thread count.
            let runs = independentRuns(events.map(trough), gap: 2 * margin, count: 4 * threads)
            let stretches = runs.map { run in
                max(0, trough(events[run.lowerBound]) - margin)..<min(N, trough(events[run.upperBound - 1]) + margin + 1)
            }
            let shared = residual, ordered = events
            let refined = concurrentMap(runs.count, threads: threads) { index -> (events: [CodedEvent], stretch: [Double]) in
                let stretch = stretches[index]
                var local = [Double](repeating: 0, count: K * stretch.count)
                for k in 0..<K {
                    for t in stretch { local[k * stretch.count + t - stretch.lowerBound] = shared[k * N + t] }
                }
                var fitter = template
                fitter.samples = stretch.count
                (fitter.centres, fitter.spreads) = (centres, spreads)
                let shifted = ordered[runs[index]].map {
                    CodedEvent(position: $0.position - stretch.lowerBound, filter: $0.filter, amplitude: $0.amplitude)
                }
                let kept = refineRun(shifted, residual: &local, fitter: fitter, threshold: threshold).map {
                    CodedEvent(position: $0.position + stretch.lowerBound, filter: $0.filter, amplitude: $0.amplitude)
                }
                return (kept, local)
            }
            events = []
            for (stretch, result) in zip(stretches, refined) {
                events += result.events
                for k in 0..<K {
                    for t in stretch { residual[k * N + t] = result.stretch[k * stretch.count + t - stretch.lowerBound] }
                }
            }
        }
        return events.sorted { ($0.position, $0.filter) < ($1.position, $1.filter) }
    }

    /// How far from a spike's trough its refinement reads or writes the residual: a waveform and a half of
    /// search either side plus the shift range, and the cost segments of up to two waveforms beyond that.
    static func reach(length L: Int, shiftRange D: Int) -> Int { 3 * L + 2 * D + 1 }

    /// Consecutive index ranges of `troughs` (ascending) that cut only where neighbours lie more than `gap`
    /// apart, about `count` of them with similar numbers of events.
    static func independentRuns(_ troughs: [Int], gap: Int, count: Int) -> [Range<Int>] {
        guard !troughs.isEmpty else { return [] }
        let target = max(1, troughs.count / max(1, count))
        var runs: [Range<Int>] = []
        var start = 0
        var index = target
        while index < troughs.count {
            if troughs[index] - troughs[index - 1] > gap {
                runs.append(start..<index)
                start = index
                index += target
            } else {
                index += 1
            }
        }
        runs.append(start..<troughs.count)
        return runs
    }

    /// One run of events in trough order, refined in place on `residual` (see the type's description).
    private static func refineRun(_ events: [CodedEvent], residual: inout [Double], fitter: Fitter,
                                  threshold: Double) -> [CodedEvent] {
        let (N, L, D) = (fitter.samples, fitter.length, fitter.shiftRange)
        let troughs = fitter.troughs
        let trough = { (event: CodedEvent) in event.position + troughs[event.filter] }
        // The L0 cost of one more spike, as the coding charged it: ½ (threshold / peak)² in noise units.
        let spikeCost = fitter.peaks.map { $0 > 0 ? 0.5 * (threshold / $0) * (threshold / $0) : .infinity }
        // Split events lie a sample or two apart; spikes of two units 0.3 ms apart must stay two, so only events
        // within half the shift range are weighed as one.
        let groupRadius = max(1, (D + 1) / 2)
        let cheapestSpike = spikeCost.min() ?? .infinity
        var refined: [CodedEvent] = []
        refined.reserveCapacity(events.count)
        var index = 0
        while index < events.count {
            // Events of one spike split over neighbouring positions or similar filters: one spike may
            // explain them better (two spikes of different units this close stay two when they fit better
            // even after paying for the second).
            var end = index + 1
            while end < events.count && trough(events[end]) - trough(events[index]) <= groupRadius { end += 1 }
            if end - index >= 2 {
                let group = Array(events[index..<end])
                let first = group.map(\.position).min()!, last = group.map(\.position).max()!
                let segment = max(0, first - D - L)..<min(N, last + D + 2 * L)
                let keepCost = 0.5 * fitter.squares(residual, over: segment)
                    + group.reduce(0) { $0 + fitter.priorCost($1.filter, amplitude: $1.amplitude) }
                    + group.sorted { $0.amplitude > $1.amplitude }.dropFirst().reduce(0) { $0 + spikeCost[$1.filter] }
                for member in group { fitter.place(member.filter, amplitude: member.amplitude, at: member.position, into: &residual) }
                let largest = group.max { $0.amplitude < $1.amplitude }!
                let squares = 0.5 * fitter.squares(residual, over: segment)
                if let single = fitter.best(around: trough(largest), residual: residual),
                   squares + single.cost < keepCost {
                    fitter.place(single.filter, amplitude: -single.amplitude, at: single.position, into: &residual)
                    refined.append(CodedEvent(position: single.position, filter: single.filter, amplitude: single.amplitude))
                    index = end
                    continue
                }
                for member in group { fitter.place(member.filter, amplitude: -member.amplitude, at: member.position, into: &residual) }
            }
            let event = events[index]
            // Two coded spikes within half a waveform: refitting one with the other fixed keeps a wrong pair of
            // units whose sum looks like the right pair's, so the two are solved jointly against one spike.
            if index + 1 < events.count && trough(events[index + 1]) - trough(event) <= L / 2
                && events[index + 1].filter != event.filter {
                let next = events[index + 1]
                fitter.place(event.filter, amplitude: event.amplitude, at: event.position, into: &residual)
                fitter.place(next.filter, amplitude: next.amplitude, at: next.position, into: &residual)
                var kept = [event, next]
                var cost = Double.infinity
                if let pair = fitter.bestPair(around: trough(event), residual: residual, spikeCost: spikeCost) {
                    (kept, cost) = (pair.spikes, pair.cost)
                }
                if let single = fitter.best(around: trough(event), residual: residual), single.cost < cost {
                    kept = [CodedEvent(position: single.position, filter: single.filter, amplitude: single.amplitude)]
                }
                for spike in kept { fitter.place(spike.filter, amplitude: -spike.amplitude, at: spike.position, into: &residual) }
                refined += kept
                index += 2
                continue
            }
            fitter.place(event.filter, amplitude: event.amplitude, at: event.position, into: &residual)
            guard let single = fitter.best(around: trough(event), residual: residual) else {
                fitter.place(event.filter, amplitude: -event.amplitude, at: event.position, into: &residual)
                refined.append(event)
                index += 1
                continue
            }
            let one = CodedEvent(position: single.position, filter: single.filter, amplitude: single.amplitude)
            // Two spikes of different units a fraction of a waveform apart can be coded as one spike between
            // them, or as two spikes of the wrong units (greedy coding takes the best single fit first, and
            // refitting one spike at a time stays there). When the single fit leaves more than noise (energy
            // a second spike could pay for) or an amplitude its unit rarely has, every pair of units and
            // positions nearby is solved jointly, and the best pair is kept if it fits better even after
            // paying for the second spike.
            let segment = max(0, trough(event) - L)..<min(N, trough(event) + L)
            fitter.place(one.filter, amplitude: -one.amplitude, at: one.position, into: &residual)
            let excess = fitter.squares(residual, over: segment) - Double(fitter.channels * segment.count)
            let z = abs(one.amplitude - fitter.centres[one.filter]) / fitter.spreads[one.filter]
            var kept = [one]
            if 0.5 * excess > cheapestSpike || z > suspiciousAmplitude {
                fitter.place(one.filter, amplitude: one.amplitude, at: one.position, into: &residual)
                let singleCost = -0.5 * one.amplitude * one.amplitude + fitter.priorCost(one.filter, amplitude: one.amplitude)
                if let pair = fitter.bestPair(around: trough(event), residual: residual, spikeCost: spikeCost),
                   pair.cost < singleCost {
                    kept = pair.spikes
                }
                for spike in kept { fitter.place(spike.filter, amplitude: -spike.amplitude, at: spike.position, into: &residual) }
            }
            refined += kept
            index += 1
        }
        return refined
    }

    /// Per unit, the fraction of (up to `samplesPerUnit` of) its spikes that two spikes of other units fit
    /// better: large for a "unit" whose waveform is two others overlapping (two units firing together often
    /// enough make such a cluster, and its mean smears their varying lags), near 0 for a real one.
    static func pairExplained(_ events: [CodedEvent], residual: [Double], channels K: Int, samples N: Int,
                              dictionary: ConvolutionalDictionary, shiftRange D: Int,
                              samplesPerUnit: Int = 50) -> [Double] {
        var fitter = Fitter(dictionary, samples: N, shiftRange: D)
        let troughs = fitter.troughs
        (fitter.centres, fitter.spreads) = amplitudeDistributions(events, units: dictionary.filters)
        // A question of shape, not of how many spikes to pay for: no L0 cost for the second spike.
        let noCost = [Double](repeating: 0, count: dictionary.filters)
        var residual = residual
        return (0..<dictionary.filters).map { unit in
            let own = events.filter { $0.filter == unit }
            guard !own.isEmpty, dictionary.filters >= 3 else { return 0 }
            let count = min(samplesPerUnit, own.count)
            var explained = 0
            for event in (0..<count).map({ own[$0 * own.count / count] }) {
                fitter.place(unit, amplitude: event.amplitude, at: event.position, into: &residual)
                let single = -0.5 * event.amplitude * event.amplitude + fitter.priorCost(unit, amplitude: event.amplitude)
                if let pair = fitter.bestPair(around: event.position + troughs[unit], residual: residual,
                                              spikeCost: noCost, excluding: unit), pair.cost < single {
                    explained += 1
                }
                fitter.place(unit, amplitude: -event.amplitude, at: event.position, into: &residual)
            }
            return Double(explained) / Double(count)
        }
    }

    /// Fits one spike: the unit, position and amplitude of least cost (−½ a² + the amplitude prior).
    struct Fitter {
        let h: [Double]
        let filters: Int, channels: Int, length: Int
        /// Samples per channel of the residual the fitter is given.
        var samples: Int
        let shiftRange: Int
        /// Each filter's largest |sample| and where it lies (see `SpikeDetection.peaks`).
        let peaks: [Double]
        let troughs: [Int]
        var centres: [Double] = []
        var spreads: [Double] = [] {
            didSet { logSpreads = spreads.map { log($0) } }
        }
        /// log of each spread, the amplitude prior's normalising term, kept so that the pair search (millions of
        /// candidate pairs) takes no logarithms.
        private(set) var logSpreads: [Double] = []

        init(_ dictionary: ConvolutionalDictionary, samples: Int, shiftRange: Int) {
            let (h, filters, channels, length) = (dictionary.weights, dictionary.filters, dictionary.channels,
                                                  dictionary.length)
            (self.h, self.filters, self.channels, self.length) = (h, filters, channels, length)
            (self.samples, self.shiftRange) = (samples, shiftRange)
            (peaks, troughs) = SpikeDetection.peaks(dictionary)
            var products = [Double](repeating: 0, count: filters * filters * (2 * length - 1))
            for first in 0..<filters {
                for second in 0..<filters {
                    for lag in (1 - length)..<length {
                        var sum = 0.0
                        for k in 0..<channels {
                            for u in max(0, lag)..<min(length, length + lag) {
                                sum += h[(first * channels + k) * length + u] * h[(second * channels + k) * length + u - lag]
                            }
                        }
                        products[(first * filters + second) * (2 * length - 1) + lag + length - 1] = sum
                    }
                }
            }
            crossProducts = products
        }

        /// ⟨filter a at position p, filter b at position p + lag⟩ for |lag| < length, at
        /// `(a · filters + b) · (2 length − 1) + lag + length − 1`.
        let crossProducts: [Double]

        /// The correlations of `residual` with filter `c` at positions `positions`, into `output`.
        private func correlations(_ c: Int, positions: ClosedRange<Int>, residual: UnsafeBufferPointer<Double>,
                                  h: UnsafeBufferPointer<Double>, into output: UnsafeMutablePointer<Double>) {
            let (K, L, N) = (channels, length, samples)
            let count = positions.count
            // The inner loop runs over contiguous positions and vectorises; each sum still adds in
            // channel-then-tap order.
            for p in 0..<count { output[p] = 0 }
            for k in 0..<K {
                let filter = h.baseAddress! + (c * K + k) * L
                let data = residual.baseAddress! + k * N + positions.lowerBound
                for tap in 0..<L {
                    let weight = filter[tap], shifted = data + tap
                    for p in 0..<count { output[p] += weight * shifted[p] }
                }
            }
        }

        /// The best two spikes of different units: the first with its trough within `shiftRange` of `trough`, the
        /// second within half a waveform of the first, amplitudes by joint least squares (both positive), cost
        /// −½ bᵀG⁻¹b plus both amplitude priors plus the L0 cost of the smaller spike.
        func bestPair(around trough: Int, residual: [Double], spikeCost: [Double],
                      excluding excluded: Int? = nil) -> (cost: Double, spikes: [CodedEvent])? {
            let (L, N) = (length, samples)
            let (first, window) = (shiftRange, length / 2)
            let reach = first + window
            var lows = [Int](repeating: 0, count: filters), highs = [Int](repeating: -1, count: filters)
            for c in 0..<filters where centres[c] > 0 && c != excluded {
                lows[c] = max(0, trough - troughs[c] - reach)
                highs[c] = min(N - L, trough - troughs[c] + reach)
            }
            let stride = 2 * reach + 1
            // The best pair so far as plain values: an array per improvement would allocate in the innermost loop.
            var bestCost = Double.infinity
            var bestPair = (a: 0, p: 0, amplitudeA: 0.0, b: 0, q: 0, amplitudeB: 0.0)
            withUnsafeTemporaryAllocation(of: Double.self, capacity: filters * stride) { table in
                h.withUnsafeBufferPointer { h in
                    residual.withUnsafeBufferPointer { residual in
                        for c in 0..<filters where lows[c] <= highs[c] {
                            correlations(c, positions: lows[c]...highs[c], residual: residual, h: h,
                                         into: table.baseAddress! + c * stride)
                        }
                    }
                }
                crossProducts.withUnsafeBufferPointer { products in
                    for a in 0..<filters where lows[a] <= highs[a] {
                        let firstLow = max(lows[a], trough - troughs[a] - first)
                        let firstHigh = min(highs[a], trough - troughs[a] + first)
                        guard firstLow <= firstHigh else { continue }
                        for p in firstLow...firstHigh {
                            let ba = table[a * stride + p - lows[a]]
                            let troughA = p + troughs[a]
                            for b in 0..<filters where b != a && lows[b] <= highs[b] {
                                let low = max(lows[b], troughA - window - troughs[b])
                                let high = min(highs[b], troughA + window - troughs[b])
                                guard low <= high else { continue }
                                let row = (a * filters + b) * (2 * L - 1) + L - 1
                                for q in low...high {
                                    let lag = q - p
                                    let g = abs(lag) < L ? products[row + lag] : 0
                                    let determinant = 1 - g * g
                                    guard determinant > 1e-3 else { continue }
                                    let bb = table[b * stride + q - lows[b]]
                                    let amplitudeA = (ba - g * bb) / determinant
                                    let amplitudeB = (bb - g * ba) / determinant
                                    guard amplitudeA > 0 && amplitudeB > 0 else { continue }
                                    let cost = -0.5 * (amplitudeA * ba + amplitudeB * bb)
                                        + priorCost(a, amplitude: amplitudeA) + priorCost(b, amplitude: amplitudeB)
                                        + spikeCost[amplitudeA < amplitudeB ? a : b]
                                    if cost < bestCost {
                                        bestCost = cost
                                        bestPair = (a, p, amplitudeA, b, q, amplitudeB)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            guard bestCost < .infinity else { return nil }
            return (bestCost, [CodedEvent(position: bestPair.p, filter: bestPair.a, amplitude: bestPair.amplitudeA),
                               CodedEvent(position: bestPair.q, filter: bestPair.b, amplitude: bestPair.amplitudeB)])
        }

        func priorCost(_ c: Int, amplitude: Double) -> Double {
            let z = (amplitude - centres[c]) / spreads[c]
            return 0.5 * z * z + logSpreads[c]
        }

        /// The best placement whose trough lies within `shiftRange` of `trough`; nil if none has a positive
        /// amplitude.
        func best(around trough: Int, residual: [Double]) -> (cost: Double, filter: Int, position: Int, amplitude: Double)? {
            let (L, N) = (length, samples)
            var best: (cost: Double, filter: Int, position: Int, amplitude: Double)?
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * shiftRange + 1) { amplitudes in
                h.withUnsafeBufferPointer { h in
                    residual.withUnsafeBufferPointer { residual in
                        for c in 0..<filters where centres[c] > 0 {
                            let low = max(0, trough - troughs[c] - shiftRange)
                            let high = min(N - L, trough - troughs[c] + shiftRange)
                            guard low <= high else { continue }
                            let count = high - low + 1
                            correlations(c, positions: low...high, residual: residual, h: h, into: amplitudes.baseAddress!)
                            for p in 0..<count {
                                let amplitude = amplitudes[p]
                                guard amplitude > 0 else { continue }
                                let cost = -0.5 * amplitude * amplitude + priorCost(c, amplitude: amplitude)
                                if cost < best?.cost ?? .infinity { best = (cost, c, low + p, amplitude) }
                            }
                        }
                    }
                }
            }
            return best
        }

        func squares(_ residual: [Double], over segment: Range<Int>) -> Double {
            residual.withUnsafeBufferPointer { residual in
                var sum = 0.0
                for k in 0..<channels {
                    for t in segment { sum += residual[k * samples + t] * residual[k * samples + t] }
                }
                return sum
            }
        }

        /// residual += amplitude × filter c placed at `position`.
        func place(_ c: Int, amplitude: Double, at position: Int, into residual: inout [Double]) {
            h.withUnsafeBufferPointer { h in
                residual.withUnsafeMutableBufferPointer { residual in
                    for k in 0..<channels {
                        let filter = h.baseAddress! + (c * channels + k) * length
                        let data = residual.baseAddress! + k * samples + position
                        for tap in 0..<length { data[tap] += amplitude * filter[tap] }
                    }
                }
            }
        }
    }

    /// Per unit, the median amplitude and the robust spread of its events' amplitudes (0 and 1 for a unit with
    /// none).
    static func amplitudeDistributions(_ events: [CodedEvent], units: Int) -> (centres: [Double], spreads: [Double]) {
        var amplitudes = [[Double]](repeating: [], count: units)
        for event in events { amplitudes[event.filter].append(event.amplitude) }
        var centres: [Double] = [], spreads: [Double] = []
        for values in amplitudes {
            guard !values.isEmpty else { centres.append(0); spreads.append(minimumSpread); continue }
            let centre = median(values)
            centres.append(centre)
            spreads.append(max(minimumSpread, 1.4826 * median(values.map { abs($0 - centre) })))
        }
        return (centres, spreads)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : 0.5 * (sorted[middle - 1] + sorted[middle])
    }
}
