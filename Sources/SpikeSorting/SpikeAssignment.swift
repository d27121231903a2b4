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
enum SpikeAssignment {
    /// The amplitude spread below which no unit's prior is trusted: the projection noise of a unit-norm filter
    /// on unit-variance noise is 1.
    static let minimumSpread = 1.0

    static func refine(_ events: [CodedEvent], residual: inout [Double], channels K: Int, samples N: Int,
                       dictionary: ConvolutionalDictionary, shiftRange D: Int, threshold: Double,
                       rounds: Int = 2, threads: Int = 1) -> [CodedEvent] {
        var events = events
        let troughs = SpikeDetection.peaks(dictionary).troughs
        let trough = { @Sendable (event: CodedEvent) in event.position + troughs[event.filter] }
        let margin = reach(length: dictionary.length, shiftRange: D)
        for _ in 0..<rounds {
            let (centres, spreads) = amplitudeDistributions(events, units: dictionary.filters)
            events.sort { (trough($0), $0.filter) < (trough($1), $1.filter) }
            // Spikes more than two reaches apart never see each other's changes, so runs of events separated by
            // such gaps are refined concurrently, each on its own copy of its stretch of the residual: the result
            // is the sequential one, whatever the thread count.
            let runs = independentRuns(events.map(trough), gap: 2 * margin, count: 4 * threads)
            let shared = residual, ordered = events
            let refined = concurrentMap(runs.count, threads: threads) { index -> (events: [CodedEvent], stretch: [Double]) in
                let run = runs[index]
                let first = trough(ordered[run.lowerBound]), last = trough(ordered[run.upperBound - 1])
                let stretch = max(0, first - margin)..<min(N, last + margin + 1)
                var local = [Double](repeating: 0, count: K * stretch.count)
                for k in 0..<K {
                    for t in stretch { local[k * stretch.count + t - stretch.lowerBound] = shared[k * N + t] }
                }
                var fitter = Fitter(h: dictionary.weights, filters: dictionary.filters, channels: K,
                                    length: dictionary.length, samples: stretch.count, troughs: troughs, shiftRange: D)
                (fitter.centres, fitter.spreads) = (centres, spreads)
                let shifted = ordered[run].map {
                    CodedEvent(position: $0.position - stretch.lowerBound, filter: $0.filter, amplitude: $0.amplitude)
                }
                let kept = refineRun(shifted, residual: &local, fitter: fitter, threshold: threshold).map {
                    CodedEvent(position: $0.position + stretch.lowerBound, filter: $0.filter, amplitude: $0.amplitude)
                }
                return (kept, local)
            }
            events = []
            for (run, result) in zip(runs, refined) {
                events += result.events
                let first = trough(ordered[run.lowerBound]), last = trough(ordered[run.upperBound - 1])
                let stretch = max(0, first - margin)..<min(N, last + margin + 1)
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
            let window = L / 2
            let segment = max(0, trough(event) - 2 * L)..<min(N, trough(event) + 2 * L)
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
        return refined
    }

    /// Fits one spike: the unit, position and amplitude of least cost (−½ a² + the amplitude prior).
    struct Fitter {
        let h: [Double]
        let filters: Int, channels: Int, length: Int, samples: Int
        let troughs: [Int]
        let shiftRange: Int
        /// Each filter's largest |sample| (see `SpikeDetection.peaks`).
        let peaks: [Double]
        var centres: [Double] = []
        var spreads: [Double] = []

        init(h: [Double], filters: Int, channels: Int, length: Int, samples: Int, troughs: [Int], shiftRange: Int) {
            (self.h, self.filters, self.channels, self.length, self.samples) = (h, filters, channels, length, samples)
            (self.troughs, self.shiftRange) = (troughs, shiftRange)
            peaks = SpikeDetection.peaks(ConvolutionalDictionary(filters: filters, channels: channels, length: length,
                                                                 weights: h)).values
        }

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
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * shiftRange + 1) { amplitudes in
                h.withUnsafeBufferPointer { h in
                    residual.withUnsafeBufferPointer { residual in
                        for c in 0..<filters where centres[c] > 0 {
                            let low = max(0, trough - troughs[c] - shiftRange)
                            let high = min(N - L, trough - troughs[c] + shiftRange)
                            guard low <= high else { continue }
                            let count = high - low + 1
                            // Every position's correlation at once, tap by tap: the inner loop runs over
                            // contiguous positions and vectorises; each sum still adds in channel-then-tap order.
                            for p in 0..<count { amplitudes[p] = 0 }
                            for k in 0..<K {
                                let filter = h.baseAddress! + (c * K + k) * L
                                let data = residual.baseAddress! + k * N + low
                                for tap in 0..<L {
                                    let weight = filter[tap], shifted = data + tap
                                    for p in 0..<count { amplitudes[p] += weight * shifted[p] }
                                }
                            }
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
