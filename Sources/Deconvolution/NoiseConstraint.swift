import Foundation

extension OASIS {
    /// The noise-constrained problem of OASIS' `deconvolve`: the smallest-L1 spikes whose calcium leaves a residual
    /// of the expected size, ‖y − c‖² ≈ σ² T (T observed frames). Returns λ ≥ 0 with the solution in c and s.
    ///
    /// The residual grows with λ and is quadratic in λ while the pools do not change, so each step solves that
    /// quadratic exactly (OASIS' homotopy, `constrained_oasisAR1`), starting from λ = 0 and stopping as OASIS does
    /// once the residual reaches 1 − 1e-4 of the target: nfx's λ is then OASIS' λ. Each step solves the trace in
    /// linear time (continuing from the previous step's pools where it can), and the search takes a handful of
    /// steps, so it stays linear in T.
    public static func noiseConstrainedAR1(_ y: UnsafeBufferPointer<Double>, g: Double, sigma: Double,
                                           calcium c: UnsafeMutableBufferPointer<Double>,
                                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        return noiseConstrainedAR1(y, g: g, sigma: sigma, pools: AR1Pools(capacity: y.count), calcium: c, spikes: s)
    }

    static func noiseConstrainedAR1(_ y: UnsafeBufferPointer<Double>, g: Double, sigma: Double,
                                    pools: AR1Pools, calcium c: UnsafeMutableBufferPointer<Double>,
                                    spikes s: UnsafeMutableBufferPointer<Double>, threads: Int = 1) -> Double {
        let observed = y.reduce(0) { $0 + ($1.isNaN ? 0 : 1) }
        let target = sigma * sigma * Double(observed)
        var lambda = 0.0
        // Each solve after the first continues from the previous one's pools (see `ar1`), where it can. A step
        // writes no calcium without NaN frames (statistics from the pools) and no spikes with them; the last solve
        // writes the solution.
        var previous: Double?
        let continuable = observed == y.count
        let statistics = continuable ? PoolStatistics(y) : nil
        func solve(writing: Bool = false) -> Double {
            defer { previous = lambda }
            return ar1(y, g: g, lambda: lambda, minimumSpike: 0, pools: pools, calcium: c, spikes: s,
                       threads: threads, continuing: continuable ? previous.map { ($0, 0) } : nil,
                       writesSpikes: writing, statistics: writing ? nil : statistics)
        }
        var rss = solve()
        var derivative = continuable ? [] : [Double](repeating: 0, count: y.count)
        var steps = 0
        var below = 0.0
        while rss < target * (1 - 1e-4) && steps < 1000 {
            var total = 0.0
            if let statistics {
                total = statistics.latest.calcium_total
            } else {
                for t in 0..<y.count where !y[t].isNaN { total += c[t] }
            }
            guard total > 1e-9 else { break }
            let next = statistics.map { $0.quadraticStep(lambda: lambda, baseline: 0, rss: rss, target: target) }
                ?? quadraticStep(y, g: g, baseline: 0, pools: pools, calcium: c, rss: rss, target: target,
                                 derivative: &derivative)
            guard let step = next else { break }
            below = lambda
            lambda += step
            rss = solve()
            steps += 1
        }
        // The last step can overshoot when pools merge on the way; OASIS accepts that, nfx narrows it down to the
        // same 1e-4 by bisection (the residual is monotone in λ).
        if rss > target * (1 + 1e-4) {
            var above = lambda
            repeat {
                lambda = (below + above) / 2
                rss = solve()
                if rss > target { above = lambda } else { below = lambda }
                steps += 1
            } while abs(rss / target - 1) > 1e-4 && steps < 1000
        }
        if continuable {
            _ = solve(writing: true)
        } else {
            spikes(of: y, g: g, calcium: c, spikes: s)
        }
        return lambda
    }
}

extension OASIS {
    /// The noise-constrained AR(1) problem with the baseline b fitted too (OASIS' `optimize_b`): after every
    /// λ step, b moves to the mean residual, and λ moves by −Δb/(1 − g), which leaves the folded data y − b − λ(1 − g)
    /// of every frame but the last unchanged — so the pools stay valid and no extra solve is needed for the move
    /// (the residual drops by n·Δb²). Returns λ and b, with the solution for them in c and s.
    static func noiseConstrainedAR1WithBaseline(_ y: UnsafeBufferPointer<Double>, g: Double, sigma: Double,
                                                initialBaseline: Double, pools: AR1Pools,
                                                calcium c: UnsafeMutableBufferPointer<Double>,
                                                spikes s: UnsafeMutableBufferPointer<Double>, threads: Int = 1)
        -> (lambda: Double, baseline: Double) {
        let observed = y.reduce(0) { $0 + ($1.isNaN ? 0 : 1) }
        let target = sigma * sigma * Double(observed)
        var baseline = initialBaseline, lambda = 0.0
        // Each solve after the first continues from the previous one's pools (see `ar1`), where it can. A step
        // writes no calcium without NaN frames (statistics from the pools) and no spikes with them; the last solve
        // writes the solution.
        var previous: (lambda: Double, baseline: Double)?
        let continuable = observed == y.count
        let statistics = continuable ? PoolStatistics(y) : nil
        func solve(writing: Bool = false) -> Double {
            defer { previous = (lambda, baseline) }
            return ar1(y, g: g, lambda: lambda, minimumSpike: 0, baseline: baseline, pools: pools, calcium: c,
                       spikes: s, threads: threads, continuing: continuable ? previous : nil,
                       writesSpikes: writing, statistics: writing ? nil : statistics)
        }
        var rss = solve()
        var derivative = continuable ? [] : [Double](repeating: 0, count: y.count)
        let observedTotal = continuable ? y.reduce(0, +) : 0
        func moveBaseline() {
            var sum = 0.0
            if let statistics {
                sum = observedTotal - statistics.latest.calcium_total
            } else {
                for t in 0..<y.count where !y[t].isNaN { sum += y[t] - c[t] }
            }
            let delta = sum / Double(observed) - baseline
            baseline += delta
            lambda -= delta / (1 - g)
            rss -= Double(observed) * delta * delta
        }
        moveBaseline()
        for _ in 0..<100 {
            if abs(rss / target - 1) <= 1e-4 { break }
            let next = statistics.map { $0.quadraticStep(lambda: lambda, baseline: baseline, rss: rss, target: target) }
                ?? quadraticStep(y, g: g, baseline: baseline, pools: pools, calcium: c, rss: rss, target: target,
                                 derivative: &derivative)
            guard let step = next else { break }
            lambda += step
            rss = solve()
            moveBaseline()
        }
        // The last frame's share of the baseline move is only exact after a solve (which pools the last pool again).
        rss = solve(writing: true)
        return (max(lambda, 0), baseline)
    }
}

extension OASIS {
    /// The λ step that brings the residual to `target` if the pools do not change: with dc/dλ = −(1 − g^l)/w · g^k
    /// in an inner pool and −1/w · g^k in the last, ‖y − b − c(λ + δ)‖² is quadratic in δ (OASIS' homotopy step).
    /// Nil when the quadratic has no real root. Frame by frame, from the written calcium (traces with NaN frames;
    /// `derivative` holds y.count values of scratch); without NaN frames `PoolStatistics.quadraticStep` takes the
    /// same step from the pools.
    static func quadraticStep(_ y: UnsafeBufferPointer<Double>, g: Double, baseline: Double, pools: AR1Pools,
                              calcium c: UnsafeMutableBufferPointer<Double>, rss: Double, target: Double,
                              derivative: inout [Double]) -> Double? {
        var aa = 0.0, bb = 0.0
        for p in 0..<pools.count {
            var slope = (p == pools.count - 1 ? 1 : 1 - pools.power(pools.lengths[p])) / pools.weights[p]
            let start = pools.starts[p]
            for k in 0..<pools.lengths[p] {
                derivative[start + k] = slope
                slope *= g
            }
        }
        for t in 0..<y.count where !y[t].isNaN {
            aa += derivative[t] * derivative[t]
            bb += (y[t] - baseline - c[t]) * derivative[t]
        }
        return stepReaching(target, rss: rss, slopeSquares: aa, slopeResidual: bb)
    }

    /// The δ ≥ 0 with rss − 2δ·bb + δ²·aa = target, where aa = ‖dc/dλ‖² and bb = ⟨y − b − c, −dc/dλ⟩ (the
    /// residual as a quadratic in the λ step while the pools hold); nil without a real root.
    static func stepReaching(_ target: Double, rss: Double, slopeSquares aa: Double, slopeResidual bb: Double)
        -> Double? {
        let cc = rss - target
        guard aa > 0, bb * bb - aa * cc >= 0 else { return nil }
        return (-bb + (bb * bb - aa * cc).squareRoot()) / aa
    }
}
