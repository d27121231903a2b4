import CKernels
import Dispatch
import Foundation
import NFXCore

/// The sparsity penalty: L1 (convex, OASIS' default) or the greedy L0 refinement of its spike positions.
public enum SparsityPenalty: String, Sendable {
    case l1, l0
}

/// What `deconvolve` may take as given instead of estimating.
public struct DeconvolutionOptions: Sendable {
    public var penalty: SparsityPenalty = .l1
    /// 1 or 2: the order of the autoregressive calcium model.
    public var arOrder: Int = 1
    /// AR coefficients (g, or g1 and g2); estimated from the autocovariance when nil.
    public var g: [Double]?
    /// Noise standard deviation; estimated from the power spectrum when nil.
    public var sigma: Double?
    /// Constant baseline; estimated jointly with the spikes when nil.
    public var baseline: Double?
    /// Sparsity penalty; when nil it is chosen so that the residual matches the noise (σ²T).
    public var lambda: Double?
    /// Minimal spike size: with it, spikes are found by hard thresholding at λ = 0 (unless `lambda` is given)
    /// after the L1 fit has set the baseline; 0 keeps the L1 solution.
    public var minimumSpike: Double = 0
    /// With `minimumSpike` and no `lambda` (AR(1)): the estimated g and baseline are refined for the thresholded
    /// fit (`ThresholdedRefinement`); false keeps the L1 fit's, as OASIS does.
    public var refinesThresholdedParameters = true

    public init(penalty: SparsityPenalty = .l1, arOrder: Int = 1, g: [Double]? = nil, sigma: Double? = nil,
                baseline: Double? = nil, lambda: Double? = nil, minimumSpike: Double = 0,
                refinesThresholdedParameters: Bool = true) {
        self.penalty = penalty
        self.arOrder = arOrder
        self.g = g
        self.sigma = sigma
        self.baseline = baseline
        self.lambda = lambda
        self.minimumSpike = minimumSpike
        self.refinesThresholdedParameters = refinesThresholdedParameters
    }
}

public struct DeconvolvedTrace: Sendable {
    public var calcium: [Double]
    public var spikes: [Double]
    public var baseline: Double
    public var sigma: Double
    public var lambda: Double
    /// The AR coefficients used (one for AR(1), two for AR(2)).
    public var g: [Double]
    /// Why this trace got zeros instead of a fit (all NaN, constant), for a per-neuron warning.
    public var warning: String?
}

public enum Deconvolution {
    /// Deconvolves one trace under AR(1) or AR(2) (the greedy L0 variant is AR(1) only): parameters estimated unless given, baseline fitted jointly with the
    /// spikes (alternating b = mean(y − c) with the noise-constrained solve), NaN frames bridged (NaN out there).
    public static func deconvolve(_ trace: [Double], options: DeconvolutionOptions = DeconvolutionOptions(),
                                  threads: Int = 1) -> DeconvolvedTrace {
        let T = trace.count
        // One pass, no copies: how many frames are observed, and whether they all have one value.
        var observedCount = 0, firstObserved = Double.nan, isConstant = true
        for value in trace where !value.isNaN {
            if observedCount == 0 { firstObserved = value } else if value != firstObserved { isConstant = false }
            observedCount += 1
        }
        func zeros(_ why: String) -> DeconvolvedTrace {
            let zero = trace.map { $0.isNaN ? Double.nan : 0 }
            return DeconvolvedTrace(calcium: zero, spikes: zero, baseline: observedCount > 0 ? firstObserved : 0,
                                    sigma: 0, lambda: 0,
                                    g: options.g ?? Array(repeating: 0, count: options.arOrder), warning: why)
        }
        if observedCount == 0 { return zeros("every frame is NaN") }
        if isConstant { return zeros("the trace is constant") }

        let estimates = Estimates(trace, options: options, threads: threads)
        let sigma = estimates.sigma
        var g = estimates.g
        var baseline = estimates.baseline
        let pools = AR1Pools(capacity: T)
        // Every solver writes every frame, so the outputs need no zero-filling.
        var calcium = [Double](unsafeUninitializedCapacity: T) { _, count in count = T }
        var spikes = [Double](unsafeUninitializedCapacity: T) { _, count in count = T }
        var shifted: [Double] = []
        /// Runs a solver on trace − baseline (`subtractingBaseline`; a copy made here) or on the trace itself.
        func solving(subtractingBaseline: Bool = true,
                     _ body: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>,
                              UnsafeMutableBufferPointer<Double>) -> Void) {
            if subtractingBaseline {
                if shifted.isEmpty { shifted = [Double](unsafeUninitializedCapacity: T) { _, count in count = T } }
                for t in 0..<T { shifted[t] = trace[t] - baseline }
            }
            (subtractingBaseline ? shifted : trace).withUnsafeBufferPointer { y in
                calcium.withUnsafeMutableBufferPointer { c in
                    spikes.withUnsafeMutableBufferPointer { s in body(y, c, s) }
                }
            }
        }
        /// One solve of the chosen model on trace − baseline: the given λ (and s_min), or the noise-constrained λ,
        /// which it returns.
        func solve(lambda given: Double?, minimumSpike: Double) -> Double {
            if g.count == 1, let given {
                // The AR(1) solver subtracts the baseline on the fly: no shifted copy.
                solving(subtractingBaseline: false) { y, c, s in
                    OASIS.ar1(y, g: g[0], lambda: given, minimumSpike: minimumSpike, baseline: baseline, pools: pools,
                              calcium: c, spikes: s, threads: threads, computesResidual: false)
                }
                return given
            }
            var lambda = 0.0
            solving { y, c, s in
                switch (g.count, given) {
                case (2, let given?):
                    OASIS.ar2(y, g1: g[0], g2: g[1], lambda: given, minimumSpike: minimumSpike, calcium: c, spikes: s)
                    lambda = given
                case (2, nil):
                    lambda = OASIS.noiseConstrainedAR2(y, g1: g[0], g2: g[1], sigma: sigma, calcium: c, spikes: s)
                default:
                    lambda = OASIS.noiseConstrainedAR1(y, g: g[0], sigma: sigma, pools: pools, calcium: c, spikes: s,
                                                       threads: threads)
                }
            }
            return lambda
        }
        var lambda = options.lambda ?? 0
        let jointly = options.baseline == nil && options.lambda == nil && g.count == 1
        if jointly {
            solving(subtractingBaseline: false) { y, c, s in
                (lambda, baseline) = OASIS.noiseConstrainedAR1WithBaseline(
                    y, g: g[0], sigma: sigma, initialBaseline: baseline, pools: pools, calcium: c, spikes: s,
                    threads: threads)
            }
        }
        /// The least-squares baseline for the current calcium.
        func leastSquaresBaseline() -> Double {
            var sum = 0.0
            for t in 0..<T where !trace[t].isNaN { sum += trace[t] - calcium[t] }
            return sum / Double(observedCount)
        }
        let rounds = jointly ? 0 : options.baseline == nil ? 10 : 1
        for _ in 0..<rounds {
            lambda = solve(lambda: options.lambda, minimumSpike: 0)
            guard options.baseline == nil else { break }
            // Stop when the baseline moves less than σ/1000.
            let next = leastSquaresBaseline()
            let moved = abs(next - baseline)
            baseline = next
            if moved <= 1e-3 * max(sigma, 1e-12) { break }
        }
        if options.penalty == .l0 {
            solving { y, c, s in _ = OASIS.greedyL0AR1(y, g: g[0], sigma: sigma, calcium: c, spikes: s) }
            lambda = 0
        } else if options.minimumSpike > 0 {
            // Hard thresholding replaces the L1 penalty (Friedrich et al. 2017, "thresholded OASIS"): the
            // noise-constrained L1 fit has provided the baseline, and λ is 0 unless given.
            lambda = options.lambda ?? 0
            let refinesG = options.g == nil, refinesBaseline = options.baseline == nil
            if options.refinesThresholdedParameters && options.lambda == nil && g.count == 1
                && (refinesG || refinesBaseline) {
                let start = (g: g[0], baseline: baseline)
                /// The thresholded fit at g = `candidate` from the L1 fit's baseline, after `updates` least-squares
                /// baseline updates; returns its information criterion.
                func thresholdedFit(g candidate: Double, updates: Int) -> Double {
                    g[0] = candidate
                    baseline = start.baseline
                    for update in 0...updates {
                        _ = solve(lambda: 0, minimumSpike: options.minimumSpike)
                        if update < updates { baseline = leastSquaresBaseline() }
                    }
                    return ThresholdedRefinement.informationCriterion(trace: trace, calcium: calcium, spikes: spikes,
                                                                      baseline: baseline, sigma: sigma)
                }
                let updates = refinesBaseline ? ThresholdedRefinement.baselineUpdates : 0
                let startCriterion = thresholdedFit(g: start.g, updates: 0)
                let bestG = refinesG
                    ? ThresholdedRefinement.goldenSectionMinimum(
                        in: ThresholdedRefinement.searchInterval(around: start.g),
                        steps: ThresholdedRefinement.searchSteps) { thresholdedFit(g: $0, updates: updates) }
                    : start.g
                if !(thresholdedFit(g: bestG, updates: updates) < startCriterion) {
                    _ = thresholdedFit(g: start.g, updates: 0)
                }
            } else {
                _ = solve(lambda: lambda, minimumSpike: options.minimumSpike)
            }
        }
        return DeconvolvedTrace(calcium: calcium, spikes: spikes, baseline: baseline, sigma: sigma, lambda: lambda,
                                g: g, warning: nil)
    }

    /// Every row of a neurons × frames array, in parallel over neurons. Each neuron's result depends only on its
    /// own trace, so the output is the same for any thread count.
    public static func deconvolve(rows: Int, frames: Int, values: [Double], options: DeconvolutionOptions,
                                  threads: Int) -> [DeconvolvedTrace] {
        let results = ResultSlots(count: rows)
        let workers = max(1, min(threads, rows))
        // Fewer traces than threads: the rest go to each trace's long solves (chunked, so results do not depend on
        // the split).
        let perTrace = max(1, threads / max(rows, 1))
        // Helpers woken now are spinning, not asleep, when the trace's first parallel step comes.
        if perTrace > 1 { SpinningTeam.shared.wake(helpers: perTrace - 1) }
        let work: @Sendable (Int) -> Void = { _ in
            // Rows are handed out one at a time, so a core slowed by other work does not hold up the rest.
            while let row = results.nextRow() {
                let trace = Array(values[row * frames..<(row + 1) * frames])
                results.set(row, deconvolve(trace, options: options, threads: perTrace))
            }
        }
        // One worker runs here: inside a concurrentPerform, Dispatch would run a trace's own parallel solves serially.
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
        return results.values
    }

    /// NumPy's linear-interpolation percentile of the observed (non-NaN) values, by selection (expected linear
    /// time) rather than a full sort; CKernels' nfx_percentile.
    static func percentile(ofObserved values: [Double], _ fraction: Double) -> Double {
        var work = [Double](unsafeUninitializedCapacity: values.count) { _, count in count = values.count }
        return nfx_percentile(values, values.count, fraction, &work)
    }
}

/// The parameters a trace's fit starts from: the given ones, and estimates of the rest (σ from the power spectrum,
/// g from the autocovariance, the baseline from the 15th percentile). With two threads for one trace, the spectrum
/// is computed beside the percentile and the autocovariance; the values are the same either way.
private final class Estimates: @unchecked Sendable {
    var sigma = 0.0, baseline = 0.0, covariance: [Double] = [], g: [Double] = []

    init(_ trace: [Double], options: DeconvolutionOptions, threads: Int) {
        let lags = options.arOrder == 2 ? ParameterEstimation.ar2Lags : ParameterEstimation.ar1Lags
        let needsCovariance = options.g == nil
        let spectrum: @Sendable () -> Void = { [unowned self] in self.sigma = options.sigma ?? ParameterEstimation.noiseLevel(trace) }
        let rest: @Sendable () -> Void = { [unowned self] in
            self.baseline = options.baseline ?? Deconvolution.percentile(ofObserved: trace, 0.15)
            if needsCovariance { self.covariance = ParameterEstimation.autocovariance(trace, lags: lags) }
        }
        if threads > 1 && options.sigma == nil && (options.baseline == nil || needsCovariance) {
            SpinningTeam.shared.run(iterations: 2, threads: 2) { $0 == 0 ? spectrum() : rest() }
        } else {
            spectrum()
            rest()
        }
        g = options.g ?? (options.arOrder == 2
            ? ParameterEstimation.ar2Coefficients(covariance: covariance, sigma: sigma)
            : [ParameterEstimation.ar1Coefficient(covariance: covariance, sigma: sigma)])
    }
}

/// One slot per neuron, written by exactly one worker each, and the next neuron to hand out.
private final class ResultSlots: @unchecked Sendable {
    private var slots: [DeconvolvedTrace?]
    private var next = 0
    private let lock = NSLock()

    func nextRow() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: DeconvolvedTrace) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [DeconvolvedTrace] { slots.map { $0! } }
}
