import NFXCore
import SparseCoding

/// Overlapping windows for coding a long recording: each window codes its core plus one filter length on either
/// side, and keeps only the events whose code position lies in its core. An event near a core's edge is then
/// coded with its whole waveform and its neighbours present, and counted by exactly one window; memory is one
/// window's dense codes per thread, whatever the recording's length.
struct CodingWindows {
    /// The cores: consecutive, disjoint, covering every code position.
    let cores: [Range<Int>]
    let samples: Int
    let length: Int

    init(samples: Int, length: Int, coreLength: Int) {
        self.samples = samples
        self.length = length
        let positions = max(0, samples - length + 1)
        var cores: [Range<Int>] = []
        var start = 0
        while start < positions {
            var end = min(positions, start + max(coreLength, 1))
            // A last core shorter than a filter joins the previous one.
            if positions - end < length { end = positions }
            cores.append(start..<end)
            start = end
        }
        self.cores = cores
    }

    /// The samples window `index` reads: its core's positions, with a filter length of margin on either side,
    /// and the whole last waveform.
    func span(_ index: Int) -> Range<Int> {
        let core = cores[index]
        return max(0, core.lowerBound - length)..<min(samples, core.upperBound - 1 + length + length)
    }
}

/// One window's coding: the spikes it keeps and, when asked, its contribution to the residual.
struct WindowCoding {
    var events: [CodedEvent]
    /// y − Hx over the window's core samples (channels × core count).
    var residual: [Double]
}

/// A coded event of one filter: where (code position in the recording), which filter, and its amplitude.
struct CodedEvent: Sendable, Equatable {
    var position: Int
    var filter: Int
    var amplitude: Double
}

enum WindowedCoding {
    /// Codes every window of `y` (channels × samples, noise units) with `dictionary` by locally greedy coordinate
    /// descent (non-negative codes) under the L0 penalty: codes of filter c are 0 or at least `minimumCodes[c]`
    /// (see `LocallyGreedyCoordinateDescent`), so one spike is never shared by two similar filters. Windows run in
    /// parallel; returns the coded events of each window's core (see `SpikeDetection.events`) in time order, and
    /// the residual y − Hx.
    static func code(_ y: [Double], channels K: Int, samples N: Int, dictionary: ConvolutionalDictionary,
                     minimumCodes: [Double], mergeDistance: Int, coreLength: Int,
                     threads: Int) -> (events: [CodedEvent], residual: [Double]) {
        let windows = CodingWindows(samples: N, length: dictionary.length, coreLength: coreLength)
        let recording = y
        let coded = concurrentMap(windows.cores.count, threads: threads) { index -> WindowCoding in
            let span = windows.span(index), core = windows.cores[index]
            var window = [Double](repeating: 0, count: K * span.count)
            for k in 0..<K {
                for t in span { window[k * span.count + t - span.lowerBound] = recording[k * N + t] }
            }
            let M = dictionary.codeLength(samples: span.count)
            let result = LocallyGreedyCoordinateDescent.encode(
                dictionary, recording: window, samples: span.count,
                options: SparseCodingOptions(lambda: 0, nonnegative: true, maxIterations: 1000, tolerance: 1e-4,
                                             recordsObjective: false),
                minimumCodes: minimumCodes)
            let keep = (core.lowerBound - span.lowerBound)..<(core.upperBound - span.lowerBound)
            var events = SpikeDetection.events(codes: result.codes, filters: dictionary.filters, positions: M,
                                               keep: keep, mergeDistance: mergeDistance)
            for index in events.indices { events[index].position += span.lowerBound }
            // The residual of the core's samples, [core start, next core start) (the last core: to the end).
            let model = Convolution.synthesize(dictionary, codes: result.codes, samples: span.count)
            let end = index == windows.cores.count - 1 ? N : core.upperBound
            var residual = [Double](repeating: 0, count: K * (end - core.lowerBound))
            for k in 0..<K {
                for t in core.lowerBound..<end {
                    let local = k * span.count + t - span.lowerBound
                    residual[k * (end - core.lowerBound) + t - core.lowerBound] = window[local] - model[local]
                }
            }
            return WindowCoding(events: events, residual: residual)
        }
        let events = coded.flatMap(\.events).sorted { ($0.position, $0.filter) < ($1.position, $1.filter) }
        var residual = [Double](repeating: 0, count: K * N)
        var start = 0
        for window in coded {
            let part = window.residual, count = part.count / max(K, 1)
            for k in 0..<K {
                for t in 0..<count { residual[k * N + start + t] = part[k * count + t] }
            }
            start += count
        }
        return (events, residual)
    }
}
