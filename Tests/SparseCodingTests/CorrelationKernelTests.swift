import CKernels
import NFXCore
import XCTest
@testable import SparseCoding

final class CorrelationKernelTests: XCTestCase {
    /// Hᵀr by the definition: filter c's correlation with every channel at every position.
    func naiveCorrelation(_ dictionary: ConvolutionalDictionary, _ r: [Double], samples N: Int) -> [Double] {
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let M = dictionary.codeLength(samples: N)
        var g = [Double](repeating: 0, count: C * M)
        for c in 0..<C {
            for s in 0..<M {
                for k in 0..<K {
                    for tap in 0..<L { g[c * M + s] += dictionary.weights[(c * K + k) * L + tap] * r[k * N + s + tap] }
                }
            }
        }
        return g
    }

    func testCorrelationEqualsItsDefinitionForAnyFilterCountAndLength() {
        // 1 to 5 filters (groups of four and a remainder), position counts that are not multiples of eight, and
        // both kernels (AVX2/FMA where this CPU has them, and the portable loop).
        var generator = SeededGenerator(seed: 3)
        defer { nfx_use_portable_kernels(0) }
        let cases = [(1, 1, 5, 40), (3, 2, 7, 101), (4, 3, 30, 257), (5, 2, 45, 1000)]
        for (portable, (filters, channels, length, samples)) in [0, 1].flatMap({ p in cases.map { (p, $0) } }) {
            nfx_use_portable_kernels(Int32(portable))
            let dictionary = ConvolutionalDictionary(filters: filters, channels: channels, length: length,
                                                     weights: (0..<(filters * channels * length)).map { _ in generator.normal() })
            let r = (0..<(channels * samples)).map { _ in generator.normal() }
            let fast = Convolution.correlate(dictionary, residual: r, samples: samples)
            let slow = naiveCorrelation(dictionary, r, samples: samples)
            XCTAssertEqual(fast.count, slow.count)
            let worst = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-12, "portable \(portable): \(filters) filters × \(channels) channels × \(length) taps, \(samples) samples")
        }
    }
}
