import NFXCore

/// Starting filters for dictionary learning; its snippet extraction and k-means also seed the spike sorter's
/// new units.
public enum DictionaryStart {
    static func filters(_ y: [Double], channels K: Int, samples N: Int, options: DictionaryLearningOptions,
                        noiseLevel sigma: Double) -> ConvolutionalDictionary {
        let (C, L) = (options.filters, options.length)
        var generator = SeededGenerator(seed: options.seed)
        var snippets: [[Double]]
        switch options.initialization {
        case let .given(dictionary):
            return dictionary
        case .randomWindows:
            snippets = []
        case .spikeTriggered:
            snippets = spikeSnippets(y, channels: K, samples: N, length: L, threshold: options.detectionThreshold * sigma)
        }
        var centroids: [[Double]]
        if snippets.count >= C {
            centroids = kMeans(snippets, clusters: C, using: &generator)
        } else {
            centroids = snippets
        }
        // Too few spikes (or random windows asked for): random windows of the recording fill the rest.
        while centroids.count < C {
            let start = generator.int(below: N - L + 1)
            centroids.append((0..<K).flatMap { k in Array(y[(k * N + start)..<(k * N + start + L)]) })
        }
        var dictionary = ConvolutionalDictionary(filters: C, channels: K, length: L, weights: centroids.flatMap { $0 })
        // A flat window (all zero) would stay zero under every update: give it random entries.
        for (c, norm) in dictionary.norms.enumerated() where norm == 0 {
            for index in (c * K * L)..<((c + 1) * K * L) { dictionary.weights[index] = generator.normal() }
        }
        dictionary.projectOntoUnitBall(exactly: true)
        return dictionary
    }

    /// Windows around threshold crossings of the largest |y| over channels, one per local extremum with a dead
    /// time of one filter length, the extremum placed at 35 % of the window (where spike troughs sit).
    static func spikeSnippets(_ y: [Double], channels K: Int, samples N: Int, length L: Int,
                              threshold: Double) -> [[Double]] {
        guard threshold > 0, N >= L else { return [] }
        let lead = Int((0.35 * Double(L)).rounded())
        var snippets: [[Double]] = []
        var t = lead
        while t < N - (L - lead) {
            var peak = 0.0
            for k in 0..<K { peak = max(peak, abs(y[k * N + t])) }
            guard peak > threshold else { t += 1; continue }
            // Follow the crossing to its extremum within the next filter length.
            var best = t, bestValue = peak
            for u in t..<min(N - (L - lead), t + L) {
                var value = 0.0
                for k in 0..<K { value = max(value, abs(y[k * N + u])) }
                if value > bestValue { (best, bestValue) = (u, value) }
            }
            let start = best - lead
            snippets.append((0..<K).flatMap { k in Array(y[(k * N + start)..<(k * N + start + L)]) })
            t = best + L
        }
        return snippets
    }

    /// Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007) on unit-normalised snippets, so that
    /// clusters group shapes rather than amplitudes; returns the cluster means.
    static func kMeans(_ points: [[Double]], clusters k: Int, using generator: inout SeededGenerator,
                       iterations: Int = 50) -> [[Double]] {
        let normalized = points.map { point -> [Double] in
            let norm = point.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? point.map { $0 / norm } : point
        }
        let distance = { (a: [Double], b: [Double]) -> Double in zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        var centers = [normalized[generator.int(below: normalized.count)]]
        while centers.count < k {
            let weights = normalized.map { point in centers.map { distance(point, $0) }.min()! }
            let total = weights.reduce(0, +)
            guard total > 0 else { centers.append(normalized[generator.int(below: normalized.count)]); continue }
            var target = generator.uniform(in: 0..<total)
            var chosen = normalized.count - 1
            for (index, weight) in weights.enumerated() {
                target -= weight
                if target < 0 { chosen = index; break }
            }
            centers.append(normalized[chosen])
        }
        var labels = [Int](repeating: -1, count: normalized.count)
        for _ in 0..<iterations {
            var changed = false
            for (index, point) in normalized.enumerated() {
                let label = (0..<k).min { distance(point, centers[$0]) < distance(point, centers[$1]) }!
                if label != labels[index] { labels[index] = label; changed = true }
            }
            for cluster in 0..<k {
                let members = normalized.indices.filter { labels[$0] == cluster }
                guard !members.isEmpty else { continue }
                var mean = [Double](repeating: 0, count: normalized[0].count)
                for member in members { for d in mean.indices { mean[d] += normalized[member][d] } }
                centers[cluster] = mean.map { $0 / Double(members.count) }
            }
            if !changed { break }
        }
        return centers
    }
}
