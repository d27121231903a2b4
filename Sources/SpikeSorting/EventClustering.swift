import Foundation
import LinearAlgebra
import NFXCore

/// Units found the way clustering sorters find them (SpyKING CIRCUS, MountainSort, Kilosort all start so):
/// threshold-crossing events are cut out as snippets, described by a few principal components per channel,
/// over-clustered by k-means, and the clusters merged back while two of them are not separate modes of the data
/// (the scheme of isosplit, Magland & Barnett 2015, MountainSort's clustering, in a simpler counting form).
///
/// The test is a dip test along the line through the two clusters' means: a unimodal distribution has, at every
/// point between two of its points, a density at least the smaller of theirs, so the count of events near the
/// midpoint of the two groups' medians is compared with the counts near each median. Pieces of one unit (a
/// single mode, however elongated by amplitude changes) merge; two units whose events leave a gap do not.
enum EventClustering {
    /// Temporal principal components kept per channel.
    static let temporalComponents = 8
    /// Two groups are separate when the count near the midpoint is below this fraction of the count near the
    /// smaller group's median (a unimodal distribution gives 1 or more) and below it by two Poisson standard
    /// deviations.
    static let dipRatio = 0.6
    /// Principal components a cluster is split in (for `--filters N` above the clusters found), k-means starts
    /// tried, and the fewest events either side.
    static let splitDimensions = 6
    static let splitStarts = 4
    static let minimumGroup = 25
    /// Events per k-means cluster of the over-clustering, on average (enough for a dip test), and the most clusters.
    static let eventsPerCluster = 30
    static let maximumClusters = 40

    /// Window starts of the events of `y` (channels × samples, noise units): samples whose most negative value
    /// over channels is below −`threshold` and the lowest within `exclusion` samples either side, placed at `lead`
    /// of a window of `length`. At most `limit`, evenly spread over all detections. Only troughs: a somatic spike
    /// seen from outside the cell is negative-going, and detecting its positive rebound as well would cut the
    /// same spike at two alignments, which cluster apart.
    static func detect(_ y: [Double], channels K: Int, samples N: Int, length L: Int, lead: Int, threshold: Double,
                       exclusion: Int, limit: Int) -> [Int] {
        guard N >= L else { return [] }
        var envelope = [Double](repeating: 0, count: N)
        y.withUnsafeBufferPointer { y in
            for k in 0..<K {
                for t in 0..<N { envelope[t] = max(envelope[t], -y[k * N + t]) }
            }
        }
        var peaks: [Int] = []
        var t = lead
        while t < N - (L - lead) + 1 && t < N {
            let value = envelope[t]
            guard value > threshold else { t += 1; continue }
            var isPeak = true
            for u in max(0, t - exclusion)..<min(N, t + exclusion + 1) where u != t {
                if envelope[u] > value || (envelope[u] == value && u < t) { isPeak = false; break }
            }
            if isPeak { peaks.append(t - lead) }
            t += 1
        }
        guard peaks.count > limit, limit > 0 else { return peaks }
        return (0..<limit).map { peaks[$0 * peaks.count / limit] }
    }

    /// events × (channels · length) snippets, each channel's window in turn.
    static func snippets(_ y: [Double], channels K: Int, samples N: Int, length L: Int, starts: [Int]) -> Matrix {
        var snippets = Matrix(rows: starts.count, columns: K * L)
        for (row, start) in starts.enumerated() {
            for k in 0..<K {
                for tap in 0..<L { snippets.elements[row * K * L + k * L + tap] = y[k * N + start + tap] }
            }
        }
        return snippets
    }

    /// The P leading principal components (L × P, orthonormal columns) of the snippets' trough channels,
    /// uncentred, so the mean spike shape is the first.
    static func temporalBasis(_ snippets: Matrix, channels K: Int, length L: Int, lead: Int) throws -> Matrix {
        let n = snippets.rows
        let P = min(temporalComponents, L)
        var troughChannel = Matrix(rows: n, columns: L)
        for row in 0..<n {
            let best = (0..<K).min { snippets[row, $0 * L + lead] < snippets[row, $1 * L + lead] }!
            for tap in 0..<L { troughChannel.elements[row * L + tap] = snippets.elements[row * K * L + best * L + tap] }
        }
        return try leadingComponents(of: troughChannel, count: P)
    }

    /// The `count` leading eigenvectors of AᵀA (columns × count, largest eigenvalue first): the principal
    /// directions of A's rows (uncentred unless the caller centred them).
    static func leadingComponents(of A: Matrix, count: Int) throws -> Matrix {
        let eigen = try symmetricEigen(try gram(A, transpose: true))
        let D = A.columns
        var leading = Matrix(rows: D, columns: count)
        for row in 0..<D {
            for column in 0..<count { leading.elements[row * count + column] = eigen.vectors.elements[row * D + (D - 1 - column)] }
        }
        return leading
    }

    /// events × (channels · P): every channel of every snippet projected on `basis`. The projection is
    /// orthonormal, so noise stays at σ = 1 in every feature.
    static func features(_ snippets: Matrix, channels K: Int, basis: Matrix) throws -> Matrix {
        // Rows of the snippets are K consecutive channel windows: one product projects them all.
        let windows = Matrix(rows: snippets.rows * K, columns: basis.rows, elements: snippets.elements)
        let projected = try multiply(windows, basis)
        return Matrix(rows: snippets.rows, columns: K * basis.columns, elements: projected.elements)
    }

    /// The rows `members` of `matrix`.
    static func rows(_ members: [Int], of matrix: Matrix) -> Matrix {
        let D = matrix.columns
        var gathered = Matrix(rows: members.count, columns: D)
        for (row, member) in members.enumerated() {
            for d in 0..<D { gathered.elements[row * D + d] = matrix.elements[member * D + d] }
        }
        return gathered
    }

    /// The dip test's scale for two groups of projections: each group's median, its values' distances from that
    /// median, and the pooled robust spread, 1.4826 × the median of all the distances (σ for Gaussian groups).
    static func pooledSpread(_ first: [Double], _ second: [Double])
        -> (medians: (Double, Double), deviations: ([Double], [Double]), spread: Double) {
        let medians = (SpikeAssignment.median(first), SpikeAssignment.median(second))
        let deviations = (first.map { abs($0 - medians.0) }, second.map { abs($0 - medians.1) })
        return (medians, deviations, 1.4826 * SpikeAssignment.median(deviations.0 + deviations.1))
    }

    /// The dip test of two groups of feature rows along the line through their means.
    static func dipTest(_ first: Matrix, _ second: Matrix) -> (ratio: Double, separate: Bool) {
        let D = first.columns
        func mean(_ group: Matrix) -> [Double] {
            var sum = [Double](repeating: 0, count: D)
            for row in 0..<group.rows { for d in 0..<D { sum[d] += group.elements[row * D + d] } }
            return sum.map { $0 / Double(max(group.rows, 1)) }
        }
        let direction = zip(mean(second), mean(first)).map { $0 - $1 }
        let norm = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0, first.rows > 0, second.rows > 0 else { return (.infinity, false) }
        func project(_ group: Matrix) -> [Double] {
            (0..<group.rows).map { row in (0..<D).reduce(0) { $0 + direction[$1] * group.elements[row * D + $1] } / norm }
        }
        let (a, b) = (project(first), project(second))
        let scale = pooledSpread(a, b)
        let ((medianA, medianB), spread) = (scale.medians, scale.spread)
        let half = 0.5 * max(spread, .leastNormalMagnitude)
        let all = a + b
        func near(_ centre: Double) -> Double { Double(all.filter { abs($0 - centre) <= half }.count) }
        let middle = near(0.5 * (medianA + medianB))
        let peak = min(near(medianA), near(medianB))
        let ratio = middle / max(peak, 1)
        return (ratio, ratio < dipRatio && peak - middle >= 2 * (peak + middle).squareRoot())
    }

    /// The most separate two-way split of `members` (rows of `features`) that k-means finds in the members' own
    /// leading principal components (`splitStarts` k-means++ starts, the lowest dip ratio kept), or nil when no
    /// start leaves `minimumGroup` events on either side.
    static func split(_ members: [Int], features: Matrix,
                      using generator: inout SeededGenerator) throws -> (first: [Int], second: [Int], ratio: Double)? {
        guard members.count >= 2 * minimumGroup else { return nil }
        let D = features.columns
        var centred = rows(members, of: features)
        var mean = [Double](repeating: 0, count: D)
        for row in 0..<centred.rows { for d in 0..<D { mean[d] += centred.elements[row * D + d] } }
        for d in 0..<D { mean[d] /= Double(centred.rows) }
        for row in 0..<centred.rows { for d in 0..<D { centred.elements[row * D + d] -= mean[d] } }
        let points = try multiply(centred, try leadingComponents(of: centred, count: min(splitDimensions, D)))
        var best: (first: [Int], second: [Int], ratio: Double)?
        for _ in 0..<splitStarts {
            let labels = kMeans(points, clusters: 2, using: &generator)
            let first = members.indices.filter { labels[$0] == 0 }.map { members[$0] }
            let second = members.indices.filter { labels[$0] != 0 }.map { members[$0] }
            guard first.count >= minimumGroup && second.count >= minimumGroup else { continue }
            let ratio = dipTest(rows(first, of: features), rows(second, of: features)).ratio
            if ratio < best?.ratio ?? .infinity { best = (first, second, ratio) }
        }
        return best
    }

    /// Labels of Lloyd's k-means of the rows of `points` from a k-means++ start (Arthur & Vassilvitskii 2007),
    /// without empty clusters (labels 0..<k' for the k' ≤ k clusters that kept members).
    static func kMeans(_ points: Matrix, clusters k: Int, using generator: inout SeededGenerator,
                       iterations: Int = 100) -> [Int] {
        let (n, d) = (points.rows, points.columns)
        guard n > 0, k > 1 else { return [Int](repeating: 0, count: n) }
        func distance(_ row: Int, _ centre: [Double]) -> Double {
            var sum = 0.0
            for j in 0..<d { let v = points.elements[row * d + j] - centre[j]; sum += v * v }
            return sum
        }
        func row(_ index: Int) -> [Double] { Array(points.elements[(index * d)..<((index + 1) * d)]) }
        var centres = [row(generator.int(below: n))]
        var nearest = (0..<n).map { distance($0, centres[0]) }
        while centres.count < min(k, n) {
            let total = nearest.reduce(0, +)
            guard total > 0 else { break }
            var target = generator.uniform(in: 0..<total)
            var chosen = n - 1
            for (index, weight) in nearest.enumerated() {
                target -= weight
                if target < 0 { chosen = index; break }
            }
            centres.append(row(chosen))
            for index in 0..<n { nearest[index] = min(nearest[index], distance(index, centres.last!)) }
        }
        var labels = [Int](repeating: -1, count: n)
        for _ in 0..<iterations {
            var changed = false
            for index in 0..<n {
                var best = (label: 0, distance: Double.infinity)
                for (label, centre) in centres.enumerated() {
                    let value = distance(index, centre)
                    if value < best.distance { best = (label, value) }
                }
                if best.label != labels[index] { labels[index] = best.label; changed = true }
            }
            if !changed { break }
            var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: centres.count)
            var counts = [Int](repeating: 0, count: centres.count)
            for index in 0..<n {
                counts[labels[index]] += 1
                for j in 0..<d { sums[labels[index]][j] += points.elements[index * d + j] }
            }
            for label in centres.indices where counts[label] > 0 {
                centres[label] = sums[label].map { $0 / Double(counts[label]) }
            }
        }
        // Renumber the clusters that kept members, in order of first appearance.
        var renumbered: [Int: Int] = [:]
        return labels.map { label in
            if let known = renumbered[label] { return known }
            renumbered[label] = renumbered.count
            return renumbered[label]!
        }
    }
}
