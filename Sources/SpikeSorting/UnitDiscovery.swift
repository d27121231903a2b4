import Foundation
import NFXCore
import SparseCoding

/// How many units a recording holds, decided as dictionary learning can: grow the dictionary one waveform at a
/// time while the growth finds units that can be told apart. A step tries, in turn, a new filter seeded from the
/// largest k-means cluster of the residual's threshold crossings (spikes no unit explains), then a split of the
/// unit whose spikes leave the most residual energy into two (k-means of its snippets; units with similar shapes
/// are told apart this way, as a cluster split would). After re-learning all filters together (alternating
/// minimisation from the candidate), a step is kept only if every unit fires at `minimumRate` or more, the fit
/// improves, no unit is two others overlapping, and every two units' spikes stay at least `minimumSeparation`
/// noise σ apart (see `leastSeparatedPair`): two units closer than that would swap more than ~7 % of their spikes
/// (a spike goes to the nearer template, so the error rate is Φ(−separation / 2)), and the halves of a unit split
/// by noise are far closer than that.
enum UnitDiscovery {
    /// Clusters of residual snippets the new filter is chosen from (the largest wins).
    static let seedClusters = 4
    /// Seconds of the training stretch the growth runs on, and learning iterations per growth step.
    static let growthSeconds = 20.0
    static let growthIterations = 8
    /// Noise σ between two units' typical spikes (see above).
    static let minimumSeparation = 3.0

    /// The current model of a growth step.
    struct Model {
        var dictionary: ConvolutionalDictionary?
        var residual: [Double]
        var residualSquares: Double
        var spikes: SortedSpikes
    }

    /// With `target` the growth goes on to exactly that many units, each step taking the candidate that fits
    /// best whatever the checks say (the checks are still reported).
    static func learn(_ y: [Double], channels K: Int, samples N: Int, target: Int? = nil, options: SpikeSortingOptions,
                      progress: ((String) -> Void)?) -> (dictionary: ConvolutionalDictionary?, trace: [String]) {
        let L = options.filterLength
        let mergeDistance = SpikeSorter.mergeDistance(samplingRate: options.samplingRate)
        let minimumSpikes = max(5, Int((options.minimumRate * Double(N) / options.samplingRate).rounded(.up)))
        var generator = SeededGenerator(seed: options.seed)
        var model = Model(dictionary: nil, residual: y, residualSquares: y.reduce(0) { $0 + $1 * $1 },
                          spikes: SortedSpikes())
        var trace: [String] = []
        var current = model
        while (current.dictionary?.filters ?? 0) < (target ?? options.maximumUnits) {
            let units = current.dictionary?.filters ?? 0
            var candidates: [(name: String, start: ConvolutionalDictionary)] = []
            let snippets = DictionaryStart.spikeSnippets(current.residual, channels: K, samples: N, length: L,
                                                         threshold: options.threshold)
            if snippets.count >= minimumSpikes {
                candidates.append(("a new unit from \(snippets.count) residual crossings",
                                   ConvolutionalDictionary(filters: units + 1, channels: K, length: L,
                                                           weights: (current.dictionary?.weights ?? [])
                                                               + largestCluster(snippets, using: &generator))))
            }
            if let dictionary = current.dictionary,
               let split = splitWorstUnit(y, channels: K, samples: N, model: current, dictionary: dictionary,
                                          minimumSpikes: minimumSpikes, using: &generator) {
                candidates.append(("a split of unit \(split.unit)", split.start))
            }
            var accepted = false
            var fallback: (line: String, model: Model, gain: Double)?
            for candidate in candidates {
                let learned = learnFilters(y, channels: K, samples: N, filters: candidate.start.filters,
                                           start: .given(candidate.start), options: options)
                let coded = WindowedCoding.code(y, channels: K, samples: N, dictionary: learned,
                                                penalty: .l1(options.lambda), mergeDistance: mergeDistance,
                                                coreLength: options.windowLength, threads: options.threads,
                                                residual: true)
                let spikes = SpikeDetection.spikes(coded.events, dictionary: learned, threshold: options.threshold)
                var counts = [Int](repeating: 0, count: learned.filters)
                for label in spikes.labels { counts[Int(label)] += 1 }
                let squares = coded.residual!.reduce(0) { $0 + $1 * $1 }
                let gain = 0.5 * (current.residualSquares - squares)
                let separation = leastSeparatedPair(y, channels: K, samples: N, dictionary: learned, spikes: spikes)
                let overlaps = learned.filters >= 3 ? overlapUnits(learned, spikes: spikes) : []
                let line = String(format: "%d units by %@: spikes per unit %@, least separated units %.1f σ apart, fit gain %.0f%@",
                                  learned.filters, candidate.name, counts.description, separation, gain,
                                  overlaps.isEmpty ? "" : ", units \(overlaps) look like two others overlapping")
                let next = Model(dictionary: learned, residual: coded.residual!, residualSquares: squares, spikes: spikes)
                guard counts.min()! >= minimumSpikes && gain > 0 && separation >= minimumSeparation
                        && overlaps.isEmpty else {
                    if counts.min()! >= minimumSpikes && gain > 0 && gain > fallback?.gain ?? -.infinity {
                        fallback = (line, next, gain)
                    }
                    trace.append(line + ": not kept")
                    continue
                }
                trace.append(line)
                progress?(line)
                model = next
                current = next
                accepted = true
                break
            }
            if !accepted, let fallback, target != nil {
                trace.append(fallback.line + ": kept for --filters")
                model = fallback.model
                current = fallback.model
                accepted = true
            }
            if !accepted {
                if candidates.isEmpty {
                    trace.append("\(units) units: \(snippets.count) residual crossings (fewer than \(minimumSpikes)), nothing to split")
                }
                break
            }
        }
        return (model.dictionary, trace)
    }

    /// The smallest separation of two units' spikes, in noise σ: each pair's spikes (data snippets, troughs
    /// aligned) projected on the difference of the two typical spikes (filter × median amplitude), and the
    /// distance between the two groups' medians over their pooled spread (1.4826 × MAD), less the inflation
    /// expected from fitting the direction to the same spikes. Measured on the spikes
    /// rather than on the templates, because a split of one unit into two makes templates that differ by noise
    /// fitted to the split (several σ with a few hundred spikes over channels × length samples), while its spikes
    /// still form one group along that difference.
    static func leastSeparatedPair(_ y: [Double], channels K: Int, samples N: Int,
                                   dictionary: ConvolutionalDictionary, spikes: SortedSpikes) -> Double {
        let (C, L) = (dictionary.filters, dictionary.length)
        guard C >= 2 else { return .infinity }
        let medians = SpikeSorter.medianAmplitudes(spikes, units: C)
        let troughs = SpikeDetection.peaks(dictionary).troughs
        let h = dictionary.weights
        var starts = [[Int]](repeating: [], count: C)
        for (time, label) in zip(spikes.times, spikes.labels) { starts[Int(label)].append(Int(time)) }
        var least = Double.infinity
        for a in 0..<C {
            for b in (a + 1)..<C {
                // The direction in a's frame: tap t of a lines up with tap t + offset of b.
                let offset = troughs[b] - troughs[a]
                var direction = [Double](repeating: 0, count: K * L)
                for k in 0..<K {
                    for t in 0..<L {
                        let u = t + offset
                        direction[k * L + t] = medians[a] * h[(a * K + k) * L + t]
                            - (u >= 0 && u < L ? medians[b] * h[(b * K + k) * L + u] : 0)
                    }
                }
                let norm = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard norm > 0 else { return 0 }
                func scores(_ unit: Int) -> [Double] {
                    starts[unit].compactMap { trough in
                        let start = trough - troughs[a]
                        guard start >= 0 && start + L <= N else { return nil }
                        var score = 0.0
                        for k in 0..<K { for t in 0..<L { score += direction[k * L + t] * y[k * N + start + t] } }
                        return score / norm
                    }
                }
                let (first, second) = (scores(a), scores(b))
                guard !first.isEmpty && !second.isEmpty else { continue }
                let (centreA, centreB) = (SpikeAssignment.median(first), SpikeAssignment.median(second))
                let spread = 1.4826 * SpikeAssignment.median(first.map { abs($0 - centreA) } + second.map { abs($0 - centreB) })
                let separation = abs(centreA - centreB) / max(spread, .leastNormalMagnitude)
                // The direction was fitted to these very spikes, which inflates the separation of a split by noise
                // by about √(channels × length / spikes) σ; measured against the threshold net of that.
                let inflation = (Double(K * L) / Double(min(first.count, second.count))).squareRoot()
                least = min(least, separation - inflation)
            }
        }
        return least
    }

    /// Units whose typical spike is, within `minimumSeparation`, two other units' typical spikes added at some
    /// relative offset: frequent overlaps of two units can earn a filter of their own (one code is cheaper than
    /// two), a "ghost" unit no neuron has. Each other unit is matched greedily: the one that, placed at its best
    /// offset, removes the most of the template, then the best second one for what is left.
    static func overlapUnits(_ dictionary: ConvolutionalDictionary, spikes: SortedSpikes) -> [Int] {
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let medians = SpikeSorter.medianAmplitudes(spikes, units: C)
        let templates = (0..<C).map { c in dictionary.weights[(c * K * L)..<((c + 1) * K * L)].map { $0 * medians[c] } }
        /// target − template `c` placed with its tap 0 at `offset` of the target's taps (within the target only).
        func subtracting(_ c: Int, at offset: Int, from target: [Double]) -> [Double] {
            var rest = target
            for k in 0..<K {
                for t in max(0, offset)..<min(L, offset + L) { rest[k * L + t] -= templates[c][k * L + t - offset] }
            }
            return rest
        }
        func bestRemoval(of target: [Double], excluding: Set<Int>) -> (unit: Int, rest: [Double])? {
            var best: (unit: Int, rest: [Double], norm: Double)?
            for c in 0..<C where !excluding.contains(c) {
                for offset in (1 - L)..<L {
                    let rest = subtracting(c, at: offset, from: target)
                    let norm = rest.reduce(0) { $0 + $1 * $1 }
                    if norm < best?.norm ?? .infinity { best = (c, rest, norm) }
                }
            }
            return best.map { ($0.unit, $0.rest) }
        }
        return (0..<C).filter { u in
            guard let first = bestRemoval(of: templates[u], excluding: [u]),
                  let second = bestRemoval(of: first.rest, excluding: [u, first.unit]) else { return false }
            // A copy of one unit is not a ghost (the separation check judges it); a ghost needs both.
            let afterFirst = first.rest.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return afterFirst >= 2 * minimumSeparation
                && second.rest.reduce(0) { $0 + $1 * $1 }.squareRoot() < minimumSeparation
        }
    }

    /// The unit whose spikes leave the most residual energy beyond the noise's (channels × length per spike),
    /// replaced by the two k-means centres of the data snippets at its spikes; nil when no unit has enough spikes.
    static func splitWorstUnit(_ y: [Double], channels K: Int, samples N: Int, model: Model,
                               dictionary: ConvolutionalDictionary, minimumSpikes: Int,
                               using generator: inout SeededGenerator) -> (unit: Int, start: ConvolutionalDictionary)? {
        let L = dictionary.length
        let troughs = SpikeDetection.peaks(dictionary).troughs
        var excess = [Double](repeating: 0, count: dictionary.filters)
        var positions = [[Int]](repeating: [], count: dictionary.filters)
        for (time, label) in zip(model.spikes.times, model.spikes.labels) {
            let c = Int(label), start = Int(time) - troughs[c]
            guard start >= 0 && start + L <= N else { continue }
            positions[c].append(start)
            var energy = 0.0
            for k in 0..<K { for t in start..<(start + L) { energy += model.residual[k * N + t] * model.residual[k * N + t] } }
            excess[c] += energy - Double(K * L)
        }
        guard let worst = excess.indices.filter({ positions[$0].count >= 2 * minimumSpikes })
            .max(by: { excess[$0] < excess[$1] }) else { return nil }
        let snippets = positions[worst].map { start in (0..<K).flatMap { k in Array(y[(k * N + start)..<(k * N + start + L)]) } }
        let centres = DictionaryStart.kMeans(snippets, clusters: 2, using: &generator).map { centre -> [Double] in
            let norm = centre.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? centre.map { $0 / norm } : centre
        }
        guard centres.count == 2 else { return nil }
        let size = K * L
        var weights: [Double] = []
        for c in 0..<dictionary.filters where c != worst { weights += dictionary.weights[(c * size)..<((c + 1) * size)] }
        weights += centres[0] + centres[1]
        return (worst, ConvolutionalDictionary(filters: dictionary.filters + 1, channels: K, length: L, weights: weights))
    }

    /// Alternating-minimisation dictionary learning of `filters` filters from `start`, on data already in noise
    /// units (so the spike-triggered start thresholds at `options.threshold` σ).
    static func learnFilters(_ y: [Double], channels K: Int, samples N: Int, filters: Int,
                             start: DictionaryInitialization, options: SpikeSortingOptions) -> ConvolutionalDictionary {
        var settings = DictionaryLearningOptions(filters: filters, length: options.filterLength, method: .altmin,
                                                 lambda: options.lambda, nonnegative: true, initialization: start,
                                                 maxIterations: options.learningIterations, tolerance: 1e-3,
                                                 windowLength: options.windowLength,
                                                 detectionThreshold: options.threshold, seed: options.seed,
                                                 threads: options.threads)
        settings.knownNoiseLevel = 1
        // The options were validated and the recording holds a filter, so learning does not throw.
        do {
            return try DictionaryLearning.learn(recording: y, channels: K, samples: N, options: settings).dictionary
        } catch {
            preconditionFailure("UnitDiscovery: dictionary learning refused validated options: \(error)")
        }
    }

    /// The normalised mean of the largest k-means cluster of `snippets`.
    static func largestCluster(_ snippets: [[Double]], using generator: inout SeededGenerator) -> [Double] {
        let centers = DictionaryStart.kMeans(snippets, clusters: min(seedClusters, snippets.count), using: &generator)
        var counts = [Int](repeating: 0, count: centers.count)
        for snippet in snippets {
            let norm = snippet.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let nearest = centers.indices.min { a, b in
                distance(snippet, centers[a], scale: norm) < distance(snippet, centers[b], scale: norm)
            }!
            counts[nearest] += 1
        }
        let center = centers[counts.indices.max { counts[$0] < counts[$1] }!]
        let norm = center.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? center.map { $0 / norm } : center
    }

    private static func distance(_ snippet: [Double], _ center: [Double], scale: Double) -> Double {
        guard scale > 0 else { return 0 }
        var sum = 0.0
        for index in snippet.indices { sum += (snippet[index] / scale - center[index]) * (snippet[index] / scale - center[index]) }
        return sum
    }
}
