import Foundation
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
enum SpikeAssignment {
    /// The amplitude spread below which no unit's prior is trusted: the projection noise of a unit-norm filter
    /// on unit-variance noise is 1.
    static let minimumSpread = 1.0

    static func refine(_ events: [CodedEvent], residual: inout [Double], channels K: Int, samples N: Int,
                       dictionary: ConvolutionalDictionary, shiftRange D: Int, threshold: Double,
                       rounds: Int = 2) -> [CodedEvent] {
        var events = events
        let (peaks, troughs) = SpikeDetection.peaks(dictionary)
        let trough = { (event: CodedEvent) in event.position + troughs[event.filter] }
        // The L0 cost of one more spike, as the coding charged it: ½ (threshold / peak)² in noise units.
        let spikeCost = peaks.map { $0 > 0 ? 0.5 * (threshold / $0) * (threshold / $0) : .infinity }
        // Split events lie a sample or two apart; spikes of two units 0.3 ms apart must stay two, so only events
        // within half the shift range are weighed as one.
        let groupRadius = max(1, (D + 1) / 2)
        var fitter = Fitter(h: dictionary.weights, filters: dictionary.filters, channels: K, length: dictionary.length,
                            samples: N, troughs: troughs, shiftRange: D)
        for _ in 0..<rounds {
            (fitter.centres, fitter.spreads) = amplitudeDistributions(events, units: dictionary.filters)
            events.sort { (trough($0), $0.filter) < (trough($1), $1.filter) }
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
                    let segment = max(0, first - D - dictionary.length)..<min(N, last + D + 2 * dictionary.length)
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
                fitter.place(event.filter, amplitude: event.amplitude, at: event.position, into: &residual)
                guard let single = fitter.best(around: trough(event), residual: residual) else {
                    fitter.place(event.filter, amplitude: -event.amplitude, at: event.position, into: &residual)
                    refined.append(event)
                    index += 1
                    continue
                }
                let one = CodedEvent(position: single.position, filter: single.filter, amplitude: single.amplitude)
                // Two spikes of different units a fraction of a waveform apart can be coded as one spike between
                // them (greedy coding takes the best single fit first): try two, each refitted with the other in
                // place, and keep them if they fit better even after paying for the second spike.
                let window = dictionary.length / 2
                let segment = max(0, trough(event) - 2 * dictionary.length)..<min(N, trough(event) + 2 * dictionary.length)
                fitter.place(one.filter, amplitude: -one.amplitude, at: one.position, into: &residual)
                let singleCost = 0.5 * fitter.squares(residual, over: segment) + fitter.priorCost(one.filter, amplitude: one.amplitude)
                var kept = [one]
                if let second = fitter.best(around: trough(one), residual: residual, range: window) {
                    // Alternate: each spike refitted with the other subtracted, a few times (the pair's fit never
                    // gets worse), then the pair is judged as a whole.
                    var pair = [one, CodedEvent(position: second.position, filter: second.filter, amplitude: second.amplitude)]
                    fitter.place(pair[1].filter, amplitude: -pair[1].amplitude, at: pair[1].position, into: &residual)
                    for step in 0..<4 {
                        let moving = step % 2
                        let current = pair[moving]
                        fitter.place(current.filter, amplitude: current.amplitude, at: current.position, into: &residual)
                        let refit = fitter.best(around: trough(one), residual: residual, range: window)
                            .map { CodedEvent(position: $0.position, filter: $0.filter, amplitude: $0.amplitude) } ?? current
                        fitter.place(refit.filter, amplitude: -refit.amplitude, at: refit.position, into: &residual)
                        pair[moving] = refit
                    }
                    let pairCost = 0.5 * fitter.squares(residual, over: segment)
                        + pair.reduce(0) { $0 + fitter.priorCost($1.filter, amplitude: $1.amplitude) }
                        + spikeCost[pair[1].filter]
                    if pairCost < singleCost && pair[0] != pair[1] {
                        kept = pair
                    } else {
                        for spike in pair { fitter.place(spike.filter, amplitude: spike.amplitude, at: spike.position, into: &residual) }
                        fitter.place(one.filter, amplitude: -one.amplitude, at: one.position, into: &residual)
                    }
                }
                refined += kept
                index += 1
            }
            events = refined
        }
        return events.sorted { ($0.position, $0.filter) < ($1.position, $1.filter) }
    }

    /// Fits one spike: the unit, position and amplitude of least cost (−½ a² + the amplitude prior).
    struct Fitter {
        let h: [Double]
        let filters: Int, channels: Int, length: Int, samples: Int
        let troughs: [Int]
        let shiftRange: Int
        var centres: [Double] = []
        var spreads: [Double] = []

        func priorCost(_ c: Int, amplitude: Double) -> Double {
            let z = (amplitude - centres[c]) / spreads[c]
            return 0.5 * z * z + log(spreads[c])
        }

        /// The best placement whose trough lies within `range` (default `shiftRange`) of `trough`; nil if none
        /// has a positive amplitude.
        func best(around trough: Int, residual: [Double],
                  range: Int? = nil) -> (cost: Double, filter: Int, position: Int, amplitude: Double)? {
            let (K, L, N) = (channels, length, samples)
            let shiftRange = range ?? self.shiftRange
            var best: (cost: Double, filter: Int, position: Int, amplitude: Double)?
            for c in 0..<filters where centres[c] > 0 {
                let low = max(0, trough - troughs[c] - shiftRange), high = min(N - L, trough - troughs[c] + shiftRange)
                guard low <= high else { continue }
                for position in low...high {
                    var amplitude = 0.0
                    for k in 0..<K {
                        let filter = (c * K + k) * L, data = k * N + position
                        for tap in 0..<L { amplitude += h[filter + tap] * residual[data + tap] }
                    }
                    guard amplitude > 0 else { continue }
                    let cost = -0.5 * amplitude * amplitude + priorCost(c, amplitude: amplitude)
                    if cost < best?.cost ?? .infinity { best = (cost, c, position, amplitude) }
                }
            }
            return best
        }

        func squares(_ residual: [Double], over segment: Range<Int>) -> Double {
            var sum = 0.0
            for k in 0..<channels { for t in segment { sum += residual[k * samples + t] * residual[k * samples + t] } }
            return sum
        }

        /// residual += amplitude × filter c placed at `position`.
        func place(_ c: Int, amplitude: Double, at position: Int, into residual: inout [Double]) {
            for k in 0..<channels {
                let filter = (c * channels + k) * length, data = k * samples + position
                for tap in 0..<length { residual[data + tap] += amplitude * h[filter + tap] }
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
