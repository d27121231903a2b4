import Foundation

/// How thresholded OASIS picks its g and baseline when they were estimated rather than given.
///
/// The L1 fit estimates g from the autocovariance (Friedrich et al. 2017) and the baseline under the L1 penalty.
/// Both are a little off for a fit whose spikes are at least s_min at λ = 0: on 3000 frames at 30 Hz the
/// autocovariance g is 0.018 away from the truth on average, and a spike then reappears as two smaller ones.
/// Refined, (g, baseline) minimise the Bayesian information criterion of the thresholded fit,
///
///     BIC(g, b) = ‖y − b − c‖² + σ² ln(T) · #spikes,
///
/// over g within ±`gHalfWidth` of the estimate (golden-section search) and b by a few least-squares updates
/// b = mean(y − c) at each g. Each spike is a parameter, so the criterion does not reward a g or b that buys a
/// lower residual with extra spikes. The refined pair is kept only when its criterion is lower than the start's.
public enum ThresholdedRefinement {
    /// Half the width of the g interval searched around the estimate: several times the estimate's typical error.
    public static let gHalfWidth = 0.05
    /// Golden-section steps: each shrinks the interval by 0.618, so 10 steps leave 0.0008 of the 0.1 searched.
    public static let searchSteps = 10
    /// Least-squares baseline updates per candidate g.
    public static let baselineUpdates = 2

    /// The g interval searched around an estimate, inside (0, 1).
    public static func searchInterval(around estimate: Double) -> ClosedRange<Double> {
        max(estimate - gHalfWidth, 1e-3)...min(estimate + gHalfWidth, 0.9999)
    }

    /// BIC of a fit over the observed frames: residual sum of squares plus σ² ln(observed frames) per spike.
    public static func informationCriterion(trace: [Double], calcium: [Double], spikes: [Double], baseline: Double,
                                            sigma: Double) -> Double {
        var residualSquares = 0.0, spikeCount = 0, observed = 0
        for t in trace.indices where !trace[t].isNaN {
            let residual = trace[t] - baseline - calcium[t]
            residualSquares += residual * residual
            if spikes[t] > 0 { spikeCount += 1 }
            observed += 1
        }
        return residualSquares + sigma * sigma * log(Double(max(observed, 1))) * Double(spikeCount)
    }

    /// The point of `interval` with the smallest `value` among those golden-section search visits in `steps`
    /// steps (exact for a unimodal function, a local minimum otherwise; the better of each pair stays inside the
    /// next bracket, so the better of the last pair is the best point visited). Deterministic: the same points
    /// every time.
    public static func goldenSectionMinimum(in interval: ClosedRange<Double>, steps: Int,
                                            _ value: (Double) -> Double) -> Double {
        let ratio = (5.0.squareRoot() - 1) / 2
        var low = interval.lowerBound, high = interval.upperBound
        var left = high - ratio * (high - low), right = low + ratio * (high - low)
        var leftValue = value(left), rightValue = value(right)
        for _ in 0..<steps {
            if leftValue < rightValue {
                (high, right, rightValue) = (right, left, leftValue)
                left = high - ratio * (high - low)
                leftValue = value(left)
            } else {
                (low, left, leftValue) = (left, right, rightValue)
                right = low + ratio * (high - low)
                rightValue = value(right)
            }
        }
        return leftValue < rightValue ? left : right
    }
}
