import Foundation

/// A seeded pseudo-random generator: xoshiro256** whose 256-bit state is filled by SplitMix64 from a 64-bit seed.
///
/// nfx promises that the same `--seed` gives the same bits on every run, thread count and Swift version, so the
/// generator and every conversion to a distribution are written here instead of relying on the standard library
/// (`SystemRandomNumberGenerator` is unseeded, and `Double.random(in:using:)` may change its algorithm).
/// Transcendental functions come from the platform's libm (glibc on Linux), so bit-identity across operating systems
/// is only as good as their `log`, `exp`, `cos`.
///
/// - xoshiro256** and the SplitMix64 seeding: D. Blackman and S. Vigna, "Scrambled linear pseudorandom number
///   generators", ACM Transactions on Mathematical Software 47(4), 2021; https://prng.di.unimi.it.
/// - SplitMix64: G. Steele, D. Lea and C. Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the four state words with four successive SplitMix64 outputs, as Blackman and Vigna recommend:
    /// SplitMix64 is a bijection of its counter, so the state is never all zero and nearby seeds give unrelated states.
    public init(seed: UInt64) {
        var counter = seed
        s0 = SeededGenerator.splitMix64(&counter)
        s1 = SeededGenerator.splitMix64(&counter)
        s2 = SeededGenerator.splitMix64(&counter)
        s3 = SeededGenerator.splitMix64(&counter)
    }

    private static func splitMix64(_ counter: inout UInt64) -> UInt64 {
        counter &+= 0x9E37_79B9_7F4A_7C15
        var z = counter
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = SeededGenerator.rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = SeededGenerator.rotateLeft(s3, 45)
        return result
    }

    /// An independent generator for sub-stream `stream` (e.g. neuron i), derived from the current state without
    /// advancing it, so that work split over any number of threads draws the same numbers.
    ///
    /// The state and the stream number are hashed with SplitMix64's finaliser into a fresh 256-bit state; distinct
    /// streams then start at effectively random, far-apart points of xoshiro's 2²⁵⁶ − 1 period.
    public func split(stream: UInt64) -> SeededGenerator {
        var counter = stream ^ 0x6A09_E667_F3BC_C908  // √2's fraction: any fixed odd-looking constant will do
        var h = SeededGenerator.splitMix64(&counter)
        for word in [s0, s1, s2, s3] {
            var mixed = h ^ word
            h = SeededGenerator.splitMix64(&mixed)
        }
        return SeededGenerator(seed: h)
    }

    /// Uniform on [0, 1): the top 53 bits scaled by 2⁻⁵³, so every value is a multiple of 2⁻⁵³ (Vigna's recommendation).
    @inline(__always)
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform on `range` (half-open); rounding can never return the upper bound.
    public mutating func uniform(in range: Range<Double>) -> Double {
        precondition(range.lowerBound.isFinite && range.upperBound.isFinite, "uniform(in:): infinite bound")
        let x = range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
        return x < range.upperBound ? x : range.upperBound.nextDown
    }

    /// Standard normal by Marsaglia's polar method (G. Marsaglia and T. A. Bray, "A convenient method for generating
    /// normal variables", SIAM Review 6(3), 1964). It yields a pair; the second value is discarded so that the
    /// generator's state is only the four xoshiro words (a cached spare would make `split` and copies subtle).
    public mutating func normal() -> Double {
        while true {
            let u = 2 * uniform() - 1
            let v = 2 * uniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                return u * (-2 * log(s) / s).squareRoot()
            }
        }
    }

    /// Normal with the given mean and standard deviation.
    public mutating func normal(mean: Double, standardDeviation: Double) -> Double {
        mean + standardDeviation * normal()
    }

    /// Exponential with the given rate (mean 1/rate), by inversion. `1 − uniform()` lies in (0, 1], so the
    /// logarithm is always finite.
    public mutating func exponential(rate: Double = 1) -> Double {
        precondition(rate > 0, "exponential(rate:): rate must be positive")
        return -log(1 - uniform()) / rate
    }

    /// Poisson with the given mean.
    ///
    /// Means below 10 use Knuth's product of uniforms (D. Knuth, TAOCP vol. 2, 3.4.1), exact and cheap there; larger
    /// means use Hörmann's transformed rejection with squeeze, PTRS (W. Hörmann, "The transformed rejection method
    /// for generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993), which is exact
    /// and needs about 1.2 pairs of uniforms whatever the mean.
    public mutating func poisson(mean: Double) -> Int {
        precondition(mean >= 0 && mean.isFinite, "poisson(mean:): mean must be finite and non-negative")
        if mean == 0 { return 0 }
        if mean < 10 {
            let limit = exp(-mean)
            var count = 0
            var product = uniform()
            while product > limit {
                count += 1
                product *= uniform()
            }
            return count
        }
        let rootMean = mean.squareRoot()
        let logMean = log(mean)
        let b = 0.931 + 2.53 * rootMean
        let a = -0.059 + 0.02483 * b
        let inverseAlpha = 1.1239 + 1.1328 / (b - 3.4)
        let vr = 0.9277 - 3.6224 / (b - 2)
        while true {
            let u = uniform() - 0.5
            let v = uniform()
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + mean + 0.43).rounded(.down)
            if us >= 0.07 && v <= vr { return Int(k) }
            if k < 0 || (us < 0.013 && v > us) { continue }
            if log(v) + log(inverseAlpha) - log(a / (us * us) + b) <= -mean + k * logMean - lgamma(k + 1) {
                return Int(k)
            }
        }
    }

    /// Uniform integer in 0..<bound without modulo bias, by Lemire's multiply-and-reject method
    /// (D. Lemire, "Fast random integer generation in an interval", ACM TOMACS 29(1), 2019).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "int(below:): bound must be positive")
        let n = UInt64(bound)
        var product = next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold {
                product = next().multipliedFullWidth(by: n)
            }
        }
        return Int(product.high)
    }

    /// Fisher–Yates shuffle drawing from `int(below:)`, so the permutation is fixed by the seed.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}
