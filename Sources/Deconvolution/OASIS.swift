import Foundation

/// OASIS for AR(1) calcium (Friedrich, Zhou & Paninski, "Fast online deconvolution of calcium imaging data",
/// PLoS Comput. Biol. 2017, Algorithm 1): the exact solution of
///
///     minimise ½‖c − y‖² + λ Σ_t s_t   subject to   s_t = c_t − g c_{t−1} ≥ s_min or s_t = 0,
///
/// in time linear in the trace length. A pool is a run of frames explained by one spike at its start, so c decays
/// as v·g^k inside it; a new frame that would need a negative spike (or one below s_min) at a junction is merged
/// into the pool before it, whose value becomes the least-squares fit of all its frames.
///
/// The L1 term is folded into the data: Σ s_t = (1 − g) Σ_{t<T−1} c_t + c_{T−1}, so the objective equals
/// ½‖c − (y − λμ)‖² plus a constant, with μ_t = 1 − g except μ_{T−1} = 1. As in OASIS, the first frame is the
/// initial calcium level rather than a spike (s_0 = 0), and NaN frames add length to a pool but no data.
struct AR1Pools {
    /// Σ g^k y_{t+k} over the pool's frames (NaN frames skipped), Σ g^{2k}, first frame, length.
    var sums: [Double] = []
    var weights: [Double] = []
    var starts: [Int] = []
    var lengths: [Int] = []

    var count: Int { sums.count }
    func value(_ i: Int) -> Double { sums[i] / weights[i] }

    mutating func reserve(_ capacity: Int) {
        sums.reserveCapacity(capacity)
        weights.reserveCapacity(capacity)
        starts.reserveCapacity(capacity)
        lengths.reserveCapacity(capacity)
    }

    mutating func removeAll() {
        sums.removeAll(keepingCapacity: true)
        weights.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
    }
}

public enum OASIS {
    /// Fills `calcium` and `spikes` (NaN where y is NaN) for AR(1) coefficient g, penalty λ and minimal spike
    /// size s_min (0: spikes are continuous amplitudes, the L1 problem). Returns the residual sum of squares over
    /// the observed frames.
    @discardableResult
    public static func ar1(_ y: UnsafeBufferPointer<Double>, g: Double, lambda: Double = 0, minimumSpike: Double = 0,
                           calcium c: UnsafeMutableBufferPointer<Double>,
                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        var pools = AR1Pools()
        return ar1(y, g: g, lambda: lambda, minimumSpike: minimumSpike, pools: &pools, calcium: c, spikes: s)
    }

    @discardableResult
    static func ar1(_ y: UnsafeBufferPointer<Double>, g: Double, lambda: Double, minimumSpike: Double,
                    pools: inout AR1Pools, calcium c: UnsafeMutableBufferPointer<Double>,
                    spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let T = y.count
        guard T > 0 else { return 0 }
        let logG = log(g)
        pools.removeAll()
        pools.reserve(T / 8 + 1)
        pools.sums.append(y[0].isNaN ? 0 : y[0] - lambda * (T == 1 ? 1 : 1 - g))
        pools.weights.append(1)
        pools.starts.append(0)
        pools.lengths.append(1)
        for t in 1..<T {
            if y[t].isNaN {
                pools.lengths[pools.count - 1] += 1
                continue
            }
            pools.sums.append(y[t] - lambda * (t == T - 1 ? 1 : 1 - g))
            pools.weights.append(1)
            pools.starts.append(t)
            pools.lengths.append(1)
            while pools.count > 1 {
                let i = pools.count - 1
                let decay = exp(logG * Double(pools.lengths[i - 1]))
                guard pools.value(i - 1) * decay + minimumSpike > pools.value(i) else { break }
                pools.sums[i - 1] += pools.sums[i] * decay
                pools.weights[i - 1] += pools.weights[i] * decay * decay
                pools.lengths[i - 1] += pools.lengths[i]
                pools.sums.removeLast()
                pools.weights.removeLast()
                pools.starts.removeLast()
                pools.lengths.removeLast()
            }
        }
        for p in 0..<pools.count {
            var level = pools.value(p)
            if (p == 0 && level < 0) || (p > 0 && level < minimumSpike) { level = 0 }
            let start = pools.starts[p]
            for k in 0..<pools.lengths[p] {
                c[start + k] = level
                level *= g
            }
        }
        s[0] = 0
        for t in 1..<T { s[t] = c[t] - g * c[t - 1] }
        var rss = 0.0
        for t in 0..<T {
            if y[t].isNaN {
                c[t] = .nan
                s[t] = .nan
            } else {
                let residual = y[t] - c[t]
                rss += residual * residual
            }
        }
        return rss
    }

    /// Array convenience.
    public static func ar1(_ y: [Double], g: Double, lambda: Double = 0, minimumSpike: Double = 0)
        -> (calcium: [Double], spikes: [Double]) {
        var c = [Double](repeating: 0, count: y.count), s = c
        y.withUnsafeBufferPointer { yp in
            c.withUnsafeMutableBufferPointer { cp in
                s.withUnsafeMutableBufferPointer { sp in
                    _ = ar1(yp, g: g, lambda: lambda, minimumSpike: minimumSpike, calcium: cp, spikes: sp)
                }
            }
        }
        return (c, s)
    }
}
