import Foundation

extension OASIS {
    /// OASIS for AR(2) calcium, c_t = g1 c_{t−1} + g2 c_{t−2} + s_t (Friedrich, Zhou & Paninski 2017, section
    /// "AR(2)"): pools keep their first and last values, and a pool's fit follows the impulse response
    /// h_k = (d^{k+1} − r^{k+1})/(d − r) of the roots d > r of z² = g1 z + g2, continuing from the previous pool's
    /// last value. OASIS recomputes Σ h_k y_{t+k} over the whole merged pool at every merge; nfx keeps Σ d^k y and
    /// Σ r^k y per pool, which merge in O(1), so the solver stays linear in T however long the pools grow.
    ///
    /// NaN frames are filled by linear interpolation for the solve and are NaN in the output (OASIS' AR(2) returns
    /// zeros for a trace with any NaN). Returns the residual sum of squares over the observed frames.
    @discardableResult
    public static func ar2(_ y: UnsafeBufferPointer<Double>, g1: Double, g2: Double, lambda: Double = 0,
                           minimumSpike: Double = 0, calcium c: UnsafeMutableBufferPointer<Double>,
                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let T = y.count
        guard T > 0 else { return 0 }
        let filled = interpolatingNaN(y)
        var target = filled.map { $0 - lambda * (1 - g1 - g2) }
        if T >= 2 { target[T - 2] = filled[T - 2] - lambda * (1 - g1) }
        target[T - 1] = filled[T - 1] - lambda

        let discriminant = (g1 * g1 + 4 * g2).squareRoot()
        let d = (g1 + discriminant) / 2, r = (g1 - discriminant) / 2
        // h_k, its shifted companion g2·h_{k−1}, and their running inner products.
        var h = [Double](repeating: 0, count: T), shifted = h, hh = h, hShifted = h
        var dk = 1.0, rk = 1.0
        for k in 0..<T {
            dk *= d
            rk *= r
            h[k] = discriminant > 0 ? (dk - rk) / (d - r) : Double(k + 1) * pow(d, Double(k))
            shifted[k] = k == 0 ? 0 : g2 * h[k - 1]
            hh[k] = (k == 0 ? 0 : hh[k - 1]) + h[k] * h[k]
            hShifted[k] = (k == 0 ? 0 : hShifted[k - 1]) + h[k] * shifted[k]
        }
        // Pools: first value, last value, start, length, Σ d^k y, Σ r^k y.
        var first = [max(0, target[0])], last = [max(0, target[0])], start = [0], length = [1]
        var sumD = [target[0]], sumR = [target[0]]
        func dot(_ i: Int) -> Double {
            discriminant > 0 ? (d * sumD[i] - r * sumR[i]) / (d - r) : {
                var sum = 0.0
                for k in 0..<length[i] { sum += h[k] * target[start[i] + k] }
                return sum
            }()
        }
        for t in 1..<T {
            first.append(target[t]); last.append(target[t]); start.append(t); length.append(1)
            sumD.append(target[t]); sumR.append(target[t])
            while first.count > 1 {
                let i = first.count - 1
                let predicted = i > 1 ? h[length[i - 1]] * first[i - 1] + shifted[length[i - 1]] * last[i - 2]
                                      : last[i - 1] * d
                guard predicted > first[i] - minimumSpike else { break }
                let previousLength = length[i - 1]
                sumD[i - 1] += pow(d, Double(previousLength)) * sumD[i]
                sumR[i - 1] += pow(r, Double(previousLength)) * sumR[i]
                length[i - 1] += length[i]
                let l = length[i - 1] - 1
                if i - 1 > 0 {
                    first[i - 1] = (dot(i - 1) - hShifted[l] * last[i - 2]) / hh[l]
                    last[i - 1] = h[l] * first[i - 1] + shifted[l] * last[i - 2]
                } else {
                    first[0] = max(0, sumD[0] * (1 - d * d) / (1 - pow(d, 2 * Double(l + 1))))
                    last[0] = pow(d, Double(l)) * first[0]
                }
                first.removeLast(); last.removeLast(); start.removeLast(); length.removeLast()
                sumD.removeLast(); sumR.removeLast()
            }
        }
        var level = max(first[0], 0)
        for j in 0..<length[0] {
            c[j] = level
            level *= d
        }
        for i in 1..<first.count {
            c[start[i]] = first[i]
            if length[i] > 2 {
                for j in (start[i] + 1)..<(start[i] + length[i] - 1) { c[j] = g1 * c[j - 1] + g2 * c[j - 2] }
            }
            c[start[i] + length[i] - 1] = last[i]
        }
        var rss = 0.0
        for t in 0..<T {
            s[t] = t < 2 ? 0 : c[t] - g1 * c[t - 1] - g2 * c[t - 2]
        }
        for t in 0..<T {
            if y[t].isNaN {
                c[t] = .nan
                s[t] = .nan
            } else {
                rss += (y[t] - c[t]) * (y[t] - c[t])
            }
        }
        return rss
    }

    /// The noise-constrained AR(2) problem: λ ≥ 0 with ‖y − c‖² within 1e-4 of σ²T, by bracketing and bisection on
    /// the monotone residual (each evaluation linear in T).
    public static func noiseConstrainedAR2(_ y: UnsafeBufferPointer<Double>, g1: Double, g2: Double, sigma: Double,
                                           calcium c: UnsafeMutableBufferPointer<Double>,
                                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let observed = y.reduce(0) { $0 + ($1.isNaN ? 0 : 1) }
        let target = sigma * sigma * Double(observed)
        var rss = ar2(y, g1: g1, g2: g2, lambda: 0, calcium: c, spikes: s)
        guard rss < target * (1 - 1e-4), target > 0 else { return 0 }
        var low = 0.0, high = max(sigma, 1e-12)
        while true {
            rss = ar2(y, g1: g1, g2: g2, lambda: high, calcium: c, spikes: s)
            if rss >= target || high > 1e12 { break }
            low = high
            high *= 2
        }
        var lambda = high
        for _ in 0..<200 where abs(rss / target - 1) > 1e-4 {
            lambda = (low + high) / 2
            rss = ar2(y, g1: g1, g2: g2, lambda: lambda, calcium: c, spikes: s)
            if rss > target { high = lambda } else { low = lambda }
        }
        return lambda
    }

    /// The trace with each run of NaN frames replaced by the straight line between its neighbours (the nearest
    /// value at either end); all-NaN stays all-NaN.
    static func interpolatingNaN(_ y: UnsafeBufferPointer<Double>) -> [Double] {
        var filled = Array(y)
        let known = filled.indices.filter { !filled[$0].isNaN }
        guard let firstKnown = known.first, let lastKnown = known.last else { return filled }
        for t in 0..<firstKnown { filled[t] = filled[firstKnown] }
        for t in (lastKnown + 1)..<filled.count { filled[t] = filled[lastKnown] }
        var previous = firstKnown
        for t in known.dropFirst() {
            if t > previous + 1 {
                for u in (previous + 1)..<t {
                    let fraction = Double(u - previous) / Double(t - previous)
                    filled[u] = filled[previous] + fraction * (filled[t] - filled[previous])
                }
            }
            previous = t
        }
        return filled
    }
}
