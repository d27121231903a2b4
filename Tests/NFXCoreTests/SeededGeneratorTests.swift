import Foundation
import XCTest
@testable import NFXCore

final class SeededGeneratorTests: XCTestCase {
    /// Values computed by hand from the published definitions of SplitMix64 and xoshiro256** (prng.di.unimi.it).
    func testSeedZeroMatchesTheReferenceAlgorithm() {
        var rng = SeededGenerator(seed: 0)
        XCTAssertEqual(rng.next(), 11_091_344_671_253_066_420)
        XCTAssertEqual(rng.next(), 13_793_997_310_169_335_082)
        XCTAssertEqual(rng.next(), 1_900_383_378_846_508_768)
    }

    func testSameSeedGivesSameSequenceAndDifferentSeedsDiffer() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let x = (0..<100).map { _ in a.next() }
        XCTAssertEqual(x, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(x, (0..<100).map { _ in c.next() })
    }

    func testSplitIsDeterministicDoesNotAdvanceAndGivesDistinctStreams() {
        let root = SeededGenerator(seed: 7)
        var s1 = root.split(stream: 1), s1again = root.split(stream: 1), s2 = root.split(stream: 2)
        var parent = root, fresh = SeededGenerator(seed: 7)
        let first = (0..<50).map { _ in s1.next() }
        XCTAssertEqual(first, (0..<50).map { _ in s1again.next() })
        XCTAssertNotEqual(first, (0..<50).map { _ in s2.next() })
        XCTAssertEqual(parent.next(), fresh.next(), "split must not advance the parent")
        var other = SeededGenerator(seed: 8).split(stream: 1)
        XCTAssertNotEqual(first, (0..<50).map { _ in other.next() })
    }

    func testUniformIsTheTop53BitsScaled() {
        var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3)
        for _ in 0..<1000 {
            let u = a.uniform()
            XCTAssertEqual(u, Double(b.next() >> 11) * 0x1p-53)
            XCTAssert(u >= 0 && u < 1)
        }
    }

    /// Checks mean and variance against their expectations within 5 standard errors, using the fourth central moment
    /// μ₄ for the standard error of the sample variance, (μ₄ − σ⁴)/n.
    private func assertMoments(_ samples: [Double], mean: Double, variance: Double, fourthMoment: Double,
                               _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let n = Double(samples.count)
        let sampleMean = samples.reduce(0, +) / n
        let sampleVariance = samples.reduce(0) { $0 + ($1 - sampleMean) * ($1 - sampleMean) } / (n - 1)
        XCTAssertEqual(sampleMean, mean, accuracy: 5 * (variance / n).squareRoot(), "\(label) mean",
                       file: file, line: line)
        XCTAssertEqual(sampleVariance, variance,
                       accuracy: 5 * ((fourthMoment - variance * variance) / n).squareRoot(), "\(label) variance",
                       file: file, line: line)
    }

    func testDistributionsHaveTheirMeansAndVariances() {
        var rng = SeededGenerator(seed: 11)
        let n = 100_000
        assertMoments((0..<n).map { _ in rng.uniform() }, mean: 0.5, variance: 1.0 / 12, fourthMoment: 1.0 / 80,
                      "uniform")
        assertMoments((0..<n).map { _ in rng.uniform(in: -3..<5) }, mean: 1, variance: 64.0 / 12,
                      fourthMoment: 4096.0 / 80, "uniform(in:)")
        assertMoments((0..<n).map { _ in rng.normal() }, mean: 0, variance: 1, fourthMoment: 3, "normal")
        let rate = 2.5
        assertMoments((0..<n).map { _ in rng.exponential(rate: rate) }, mean: 1 / rate, variance: 1 / (rate * rate),
                      fourthMoment: 9 / pow(rate, 4), "exponential")
        for mean in [0.3, 3.0, 9.9, 10.0, 50.0, 1e4] {
            assertMoments((0..<n).map { _ in Double(rng.poisson(mean: mean)) }, mean: mean, variance: mean,
                          fourthMoment: mean * (1 + 3 * mean), "poisson(\(mean))")
        }
    }

    /// PTRS is a rejection method: an error in the acceptance test shows in single probabilities before the moments.
    func testPoissonProbabilitiesMatchThePMFForLargeMeans() {
        var rng = SeededGenerator(seed: 5)
        let n = 100_000, mean = 30.0
        var counts = [Int: Int]()
        for _ in 0..<n { counts[rng.poisson(mean: mean), default: 0] += 1 }
        for k in [20, 25, 30, 35, 40] {
            let p = exp(-mean + Double(k) * log(mean) - lgamma(Double(k) + 1))
            let observed = Double(counts[k, default: 0]) / Double(n)
            XCTAssertEqual(observed, p, accuracy: 5 * (p * (1 - p) / Double(n)).squareRoot(), "P(X = \(k))")
        }
    }

    func testIntBelowIsInRangeAndUniform() {
        var rng = SeededGenerator(seed: 9)
        XCTAssertEqual(rng.int(below: 1), 0)
        let bound = 7, n = 70_000
        var counts = [Int](repeating: 0, count: bound)
        for _ in 0..<n {
            let value = rng.int(below: bound)
            XCTAssert((0..<bound).contains(value))
            counts[value] += 1
        }
        let expected = Double(n) / Double(bound)
        let se = (expected * (1 - 1 / Double(bound))).squareRoot()
        for count in counts { XCTAssertEqual(Double(count), expected, accuracy: 5 * se) }
        // A bound near 2⁶³ exercises the rejection threshold.
        let huge = Int.max / 3 * 2
        for _ in 0..<1000 { XCTAssert((0..<huge).contains(rng.int(below: huge))) }
    }

    func testShuffleIsAPermutationFixedBySeed() {
        var a = SeededGenerator(seed: 1), b = SeededGenerator(seed: 1)
        var x = Array(0..<20), y = Array(0..<20)
        a.shuffle(&x)
        b.shuffle(&y)
        XCTAssertEqual(x, y)
        XCTAssertEqual(x.sorted(), Array(0..<20))
        XCTAssertNotEqual(x, Array(0..<20))
    }
}
