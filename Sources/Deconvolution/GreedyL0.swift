import Foundation

extension OASIS {
    /// The greedy L0 variant of OASIS' `constrained_oasisAR1(penalty=0)`: the spike positions of the
    /// noise-constrained L1 solution, taken largest jump first, are added one at a time to an empty solution; each
    /// addition splits the pool it falls in and refits both halves by least squares (no shrinkage), and the search
    /// stops as soon as the residual is below σ²T. Spike amplitudes are therefore unbiased, and the result is a
    /// local optimum of the L0 problem. Returns the number of spikes placed.
    @discardableResult
    public static func greedyL0AR1(_ y: UnsafeBufferPointer<Double>, g: Double, sigma: Double,
                                   calcium c: UnsafeMutableBufferPointer<Double>,
                                   spikes s: UnsafeMutableBufferPointer<Double>) -> Int {
        let T = y.count
        guard T > 0 else { return 0 }
        let pools = AR1Pools(capacity: T)
        _ = noiseConstrainedAR1(y, g: g, sigma: sigma, pools: pools, calcium: c, spikes: s)
        let observed = y.reduce(0) { $0 + ($1.isNaN ? 0 : 1) }
        let target = sigma * sigma * Double(observed)

        // Candidate spike frames: the start of every pool after the first, largest jump first.
        var candidates: [(jump: Double, frame: Int)] = []
        for i in 0..<max(0, pools.count - 1) {
            let jump = pools.value(i + 1) - pools.value(i) * pools.power(pools.lengths[i])
            candidates.append((jump, pools.starts[i + 1]))
        }
        candidates.sort { $0.jump > $1.jump }

        // Start from no spikes at all: c = 0 everywhere, one pool spanning the trace.
        var rss = 0.0
        for t in 0..<T {
            c[t] = 0
            if !y[t].isNaN { rss += y[t] * y[t] }
        }
        var isStart = [Bool](repeating: false, count: T + 1)
        isStart[0] = true
        isStart[T] = true
        var placed = 0
        for candidate in candidates where rss >= target {
            let p = candidate.frame
            guard !isStart[p] else { continue }
            var j = p
            while !isStart[j] { j -= 1 }
            var end = p + 1
            while !isStart[end] { end += 1 }
            isStart[p] = true
            for t in j..<end where !y[t].isNaN { rss -= (y[t] - c[t]) * (y[t] - c[t]) }
            refit(y, g: g, range: j..<p, calcium: c)
            refit(y, g: g, range: p..<end, calcium: c)
            for t in j..<end where !y[t].isNaN { rss += (y[t] - c[t]) * (y[t] - c[t]) }
            placed += 1
        }
        s[0] = 0
        for t in 1..<T { s[t] = c[t] - g * c[t - 1] }
        for t in 0..<T where y[t].isNaN {
            c[t] = .nan
            s[t] = .nan
        }
        return placed
    }

    /// c on `range` = max(0, v)·g^k with v the least-squares amplitude of g^k over the observed frames.
    private static func refit(_ y: UnsafeBufferPointer<Double>, g: Double, range: Range<Int>,
                              calcium c: UnsafeMutableBufferPointer<Double>) {
        var sum = 0.0, weight = 0.0, kernel = 1.0
        for t in range {
            if !y[t].isNaN {
                sum += kernel * y[t]
                weight += kernel * kernel
            }
            kernel *= g
        }
        var level = weight > 0 ? max(0, sum) / weight : 0
        for t in range {
            c[t] = level
            level *= g
        }
    }
}
