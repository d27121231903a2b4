import Foundation

extension OASIS {
    /// The noise-constrained problem of OASIS' `deconvolve`: the smallest-L1 spikes whose calcium leaves a residual
    /// of the expected size, ‖y − c‖² = σ² T (T observed frames). Returns λ ≥ 0 with the solution in c and s.
    ///
    /// The residual grows with λ, piecewise quadratically (quadratic while the pools do not change), so each step
    /// solves the quadratic of the current pools exactly — as OASIS' own homotopy does — but re-solves from
    /// scratch in linear time rather than re-merging pools across the whole trace, keeping the total linear in
    /// T; a bracket [low, high] falls back to bisection if a step leaves it.
    public static func noiseConstrainedAR1(_ y: UnsafeBufferPointer<Double>, g: Double, sigma: Double,
                                           calcium c: UnsafeMutableBufferPointer<Double>,
                                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let observed = y.reduce(0) { $0 + ($1.isNaN ? 0 : 1) }
        let target = sigma * sigma * Double(observed)
        var pools = AR1Pools()
        var lambda = 0.0
        var rss = ar1(y, g: g, lambda: 0, minimumSpike: 0, pools: &pools, calcium: c, spikes: s)
        guard rss < target, target > 0 else { return 0 }
        var low = 0.0, high = Double.infinity
        var derivative = [Double](repeating: 0, count: y.count)
        for _ in 0..<200 {
            if abs(rss - target) <= 1e-12 * target { break }
            if rss < target { low = lambda } else { high = lambda }
            // dc/dλ for the current pools: −(1 − g^l)/w · g^k in an inner pool, −1/w · g^k in the last, 0 where
            // the pool is clamped at zero.
            var aa = 0.0, bb = 0.0
            for p in 0..<pools.count {
                let isLast = p == pools.count - 1
                let clamped = pools.value(p) <= 0
                var slope = clamped ? 0 : (isLast ? 1 : 1 - pow(g, Double(pools.lengths[p]))) / pools.weights[p]
                let start = pools.starts[p]
                for k in 0..<pools.lengths[p] {
                    derivative[start + k] = slope
                    slope *= g
                }
            }
            for t in 0..<y.count where !y[t].isNaN {
                let residual = y[t] - c[t]
                aa += derivative[t] * derivative[t]
                bb += residual * derivative[t]
            }
            var next: Double
            let cc = rss - target
            if aa > 0, bb * bb - aa * cc >= 0 {
                next = lambda + (-bb + (bb * bb - aa * cc).squareRoot()) / aa
            } else {
                next = high.isFinite ? (low + high) / 2 : max(2 * lambda, sigma)
            }
            if !(next > low && next < high) { next = high.isFinite ? (low + high) / 2 : max(2 * lambda, low + sigma) }
            if next == lambda { break }
            lambda = next
            rss = ar1(y, g: g, lambda: lambda, minimumSpike: 0, pools: &pools, calcium: c, spikes: s)
            if high.isFinite && high - low <= 1e-15 * max(1, high) { break }
        }
        return lambda
    }
}
