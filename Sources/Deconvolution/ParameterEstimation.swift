import CKernels
import Foundation

/// Noise level and calcium time constant from the trace itself, as OASIS' `estimate_parameters` does them
/// (Pnevmatikakis et al. 2016, CaImAn): σ from the high-frequency plateau of the power spectrum, where calcium
/// transients have no power; g from the autocovariance, which for AR(1) plus white noise decays as g^k beyond lag 0.
public enum ParameterEstimation {
    /// σ² = ½ · mean of the one-sided Welch power spectral density over 0.25–0.5 of the Nyquist frequency
    /// (segments of 256 frames, Hann window, half overlap, mean removed: scipy.signal.welch's defaults).
    public static func noiseLevel(_ y: [Double]) -> Double {
        let observed = y.contains(where: \.isNaN) ? y.filter { !$0.isNaN } : y
        guard observed.count > 1 else { return 0 }
        let length = min(256, observed.count)
        let window = length == 256 ? hann256 : hann(length)
        let windowPower = window.reduce(0) { $0 + $1 * $1 }
        let bins = (0...(length / 2)).filter { k in
            let frequency = Double(k) / Double(length)
            return frequency > 0.25 && frequency < 0.5
        }
        guard let firstBin = bins.first, let lastBin = bins.last else { return 0 }
        var power = [Double](repeating: 0, count: bins.count)
        let segments: Int
        if length.nonzeroBitCount == 1 {
            let fft = length == 256 ? FFT.size256 : FFT(size: length)
            var work = [Double](repeating: 0, count: 2 * length)
            segments = nfx_welch_band_power(observed, observed.count, length, window, fft.cosines, fft.sines,
                                            fft.reversal, firstBin, lastBin, &work, &power)
        } else {
            // Short traces of other lengths: a direct DFT of each segment.
            let starts = Array(stride(from: 0, through: observed.count - length, by: length / 2))
            for start in starts {
                let segment = observed[start..<start + length]
                let mean = segment.reduce(0, +) / Double(length)
                let prepared = segment.enumerated().map { ($0.element - mean) * window[$0.offset] }
                for (j, k) in bins.enumerated() {
                    var re = 0.0, im = 0.0
                    for i in 0..<length {
                        let angle = -2 * Double.pi * Double(k * i) / Double(length)
                        re += prepared[i] * cos(angle)
                        im += prepared[i] * sin(angle)
                    }
                    power[j] += re * re + im * im
                }
            }
            segments = starts.count
        }
        // One-sided density at unit sampling rate: 2|X_k|² / Σw²; σ² is half of it for white noise.
        let density = power.map { 2 * $0 / (windowPower * Double(segments)) }
        return (density.reduce(0, +) / Double(density.count) / 2).squareRoot()
    }

    /// The periodic Hann window of scipy.signal.welch.
    static func hann(_ length: Int) -> [Double] {
        (0..<length).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(length)) }
    }

    private static let hann256 = hann(256)

    /// AR(2) coefficients (g1, g2) the same way: least squares of γ(k + 1) ≈ g1 γ(k) + g2 γ(|k − 1|) with σ² removed
    /// at lag 0, then each root of z² = g1 z + g2 kept within (0, 1) and shrunk by `fudgeFactor`.
    public static func ar2Coefficients(_ y: [Double], sigma: Double, lags: Int = ar2Lags, fudgeFactor: Double = 0.98)
        -> [Double] {
        ar2Coefficients(covariance: autocovariance(y, lags: lags), sigma: sigma, fudgeFactor: fudgeFactor)
    }

    /// Lags of the autocovariance the AR(1) and AR(2) estimates fit (OASIS' defaults).
    public static let ar1Lags = 11, ar2Lags = 12

    /// The same from the autocovariance γ(0…lags) (empty: the trace was too short).
    static func ar2Coefficients(covariance: [Double], sigma: Double, fudgeFactor: Double = 0.98) -> [Double] {
        let lags = covariance.count - 1
        guard lags >= 2 else { return [0.95 * fudgeFactor + 0.15, -0.95 * 0.15 * fudgeFactor] }
        // Normal equations of the lags × 2 system A g = γ(1…lags).
        var a00 = 0.0, a01 = 0.0, a11 = 0.0, b0 = 0.0, b1 = 0.0
        for k in 0..<lags {
            let x0 = covariance[k] - (k == 0 ? sigma * sigma : 0)
            let x1 = covariance[abs(k - 1)] - (k == 1 ? sigma * sigma : 0)
            a00 += x0 * x0; a01 += x0 * x1; a11 += x1 * x1
            b0 += x0 * covariance[k + 1]; b1 += x1 * covariance[k + 1]
        }
        let det = a00 * a11 - a01 * a01
        guard det != 0 else { return [0.95 * fudgeFactor + 0.15, -0.95 * 0.15 * fudgeFactor] }
        let g1 = (b0 * a11 - a01 * b1) / det, g2 = (a00 * b1 - a01 * b0) / det
        // Roots of z² − g1 z − g2; complex roots are replaced by their real part (as OASIS does).
        let discriminant = g1 * g1 + 4 * g2
        var roots = discriminant >= 0 ? [(g1 + discriminant.squareRoot()) / 2, (g1 - discriminant.squareRoot()) / 2]
                                      : [g1 / 2, g1 / 2]
        roots = roots.map { $0 > 1 ? 0.95 : $0 < 0 ? 0.15 : $0 }.map { $0 * fudgeFactor }
        return [roots[0] + roots[1], -roots[0] * roots[1]]
    }

    /// Biased autocovariance γ(0…lags) of the mean-removed observed frames; empty when too short.
    static func autocovariance(_ y: [Double], lags: Int) -> [Double] {
        let observed = y.contains(where: \.isNaN) ? y.filter { !$0.isNaN } : y
        guard observed.count > lags + 1 else { return [] }
        var work = [Double](repeating: 0, count: observed.count)
        var covariance = [Double](repeating: 0, count: lags + 1)
        nfx_autocovariance(observed, observed.count, lags, &work, &covariance)
        return covariance
    }

    /// The AR(1) coefficient from the biased autocovariance γ of the mean-removed trace (NaN frames dropped):
    /// least squares of γ(k + 1) ≈ g γ(k) for k = 0…lags − 1, with σ² removed from γ(0), shrunk by `fudgeFactor`
    /// (OASIS' default 0.98, against the bias of the estimate) and kept within (0, 1).
    public static func ar1Coefficient(_ y: [Double], sigma: Double, lags: Int = ar1Lags, fudgeFactor: Double = 0.98)
        -> Double {
        ar1Coefficient(covariance: autocovariance(y, lags: lags), sigma: sigma, fudgeFactor: fudgeFactor)
    }

    /// The same from the autocovariance γ(0…lags) (empty: the trace was too short).
    static func ar1Coefficient(covariance: [Double], sigma: Double, fudgeFactor: Double = 0.98) -> Double {
        let lags = covariance.count - 1
        guard lags >= 1 else { return 0.95 * fudgeFactor }
        var numerator = 0.0, denominator = 0.0
        for k in 0..<lags {
            let a = covariance[k] - (k == 0 ? sigma * sigma : 0)
            numerator += a * covariance[k + 1]
            denominator += a * a
        }
        guard denominator > 0 else { return 0.95 * fudgeFactor }
        var root = numerator / denominator
        // OASIS replaces roots outside (0, 1) by 0.95 or 0.15 plus random jitter; nfx keeps no randomness here.
        if root > 1 { root = 0.95 }
        if root < 0 { root = 0.15 }
        return fudgeFactor * root
    }
}

/// An in-place radix-2 complex FFT (Cooley–Tukey, iterative) for the Welch segments: the tables here, the
/// transform in CKernels' estimation.c.
struct FFT: Sendable {
    let size: Int
    /// e^(−2πik/size) for k < size/2, and the bit-reversal permutation of 0…size − 1.
    let cosines: [Double]
    let sines: [Double]
    let reversal: [Int32]

    static let size256 = FFT(size: 256)

    init(size: Int) {
        precondition(size > 0 && size.nonzeroBitCount == 1, "FFT size must be a power of two")
        self.size = size
        cosines = (0..<size / 2).map { cos(-2 * Double.pi * Double($0) / Double(size)) }
        sines = (0..<size / 2).map { sin(-2 * Double.pi * Double($0) / Double(size)) }
        let bits = size.trailingZeroBitCount
        reversal = (0..<size).map { index in
            var reversed = 0
            for bit in 0..<bits where index & (1 << bit) != 0 { reversed |= 1 << (bits - 1 - bit) }
            return Int32(reversed)
        }
    }

    func transform(_ real: inout [Double], _ imaginary: inout [Double]) {
        precondition(real.count == size && imaginary.count == size)
        nfx_fft(&real, &imaginary, size, cosines, sines, reversal)
    }
}
