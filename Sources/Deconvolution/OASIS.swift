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
final class AR1Pools {
    /// Per pool: Σ g^k y_{t+k} over its frames (NaN frames skipped), Σ g^{2k}, their ratio (the fitted value at
    /// the pool's first frame, kept so the merge test needs no division), first frame, length.
    let sums: UnsafeMutablePointer<Double>
    let values: UnsafeMutablePointer<Double>
    let weights: UnsafeMutablePointer<Double>
    let starts: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    private(set) var count = 0
    let capacity: Int
    /// g^k for k = 0…computed, extended on demand up to capacity, so that no merge pays for exp(). Pools are
    /// short, so the table rarely grows far: filling it for the whole trace up front cost more than the solve.
    private let powers: UnsafeMutablePointer<Double>
    private var powersFor: Double = .nan
    private var computed = -1

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        sums = .allocate(capacity: self.capacity)
        values = .allocate(capacity: self.capacity)
        weights = .allocate(capacity: self.capacity)
        starts = .allocate(capacity: self.capacity)
        lengths = .allocate(capacity: self.capacity)
        powers = .allocate(capacity: self.capacity + 1)
    }

    deinit {
        sums.deallocate()
        values.deallocate()
        weights.deallocate()
        starts.deallocate()
        lengths.deallocate()
        powers.deallocate()
    }

    func prepare(g: Double) {
        guard g != powersFor else { return }
        powersFor = g
        powers[0] = 1
        computed = 0
    }

    @inline(__always) func power(_ k: Int) -> Double {
        if k > computed { extendPowers(to: k) }
        return powers[k]
    }

    private func extendPowers(to k: Int) {
        let target = min(capacity, max(k, 2 * computed + 64))
        for j in (computed + 1)...target { powers[j] = powers[j - 1] * powersFor }
        computed = target
    }
    @inline(__always) func value(_ i: Int) -> Double { values[i] }

    @inline(__always) func reset() { count = 0 }

    @inline(__always) func push(sum: Double, start: Int) {
        sums[count] = sum
        values[count] = sum
        weights[count] = 1
        starts[count] = start
        lengths[count] = 1
        count += 1
    }

    func setCount(_ newCount: Int) { count = newCount }
}

public enum OASIS {
    /// Fills `calcium` and `spikes` (NaN where y is NaN) for AR(1) coefficient g, penalty λ and minimal spike
    /// size s_min (0: spikes are continuous amplitudes, the L1 problem). Returns the residual sum of squares over
    /// the observed frames.
    @discardableResult
    public static func ar1(_ y: UnsafeBufferPointer<Double>, g: Double, lambda: Double = 0, minimumSpike: Double = 0,
                           calcium c: UnsafeMutableBufferPointer<Double>,
                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let pools = AR1Pools(capacity: y.count)
        return ar1(y, g: g, lambda: lambda, minimumSpike: minimumSpike, pools: pools, calcium: c, spikes: s)
    }

    /// The same with caller-owned pools (reused across the many solves of a λ or baseline search), for y − b:
    /// the baseline is subtracted on the fly, and the residual returned is that of y − b − c.
    @discardableResult
    static func ar1(_ y: UnsafeBufferPointer<Double>, g: Double, lambda: Double, minimumSpike: Double,
                    baseline b: Double = 0, pools: AR1Pools, calcium c: UnsafeMutableBufferPointer<Double>,
                    spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let T = y.count
        guard T > 0 else { return 0 }
        pools.prepare(g: g)
        pools.reset()
        let interior = lambda * (1 - g) + b, last = lambda + b
        pools.push(sum: y[0].isNaN ? 0 : y[0] - (T == 1 ? last : interior), start: 0)
        let sums = pools.sums, values = pools.values, weights = pools.weights, lengths = pools.lengths
        let starts = pools.starts
        // The hot loop keeps the pool count in a local (a class property would be checked for exclusive access
        // at every touch) and works on raw buffers.
        var count = 1
        for t in 1..<T {
            let value = y[t]
            if value.isNaN {
                lengths[count - 1] += 1
                continue
            }
            let fitted = value - (t == T - 1 ? last : interior)
            sums[count] = fitted
            weights[count] = 1
            starts[count] = t
            lengths[count] = 1
            count += 1
            var i = count - 1
            while i > 0 {
                let decay = pools.power(lengths[i - 1])
                // v_{i−1}·decay + s_min > v_i, multiplied through by the (positive) weights: no division on the
                // chain of dependent merges.
                let (w0, w1) = (weights[i - 1], weights[i])
                guard (sums[i - 1] * decay + minimumSpike * w0) * w1 > sums[i] * w0 else { break }
                sums[i - 1] += sums[i] * decay
                weights[i - 1] = w0 + w1 * decay * decay
                lengths[i - 1] += lengths[i]
                count -= 1
                i -= 1
            }
        }
        pools.setCount(count)
        for p in 0..<count { values[p] = sums[p] / weights[p] }
        for p in 0..<pools.count {
            var level = pools.value(p)
            if (p == 0 && level < 0) || (p > 0 && level < minimumSpike) { level = 0 }
            let start = pools.starts[p]
            for k in 0..<lengths[p] {
                c[start + k] = level
                level *= g
            }
        }
        // Spikes and the residual in one pass, backwards so that c[t − 1] is still a number when s[t] needs it.
        var rss = 0.0
        for t in stride(from: T - 1, through: 0, by: -1) {
            if y[t].isNaN {
                s[t] = .nan
                c[t] = .nan
            } else {
                s[t] = t == 0 ? 0 : c[t] - g * c[t - 1]
                let residual = y[t] - b - c[t]
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
