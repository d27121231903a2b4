import Foundation
import NFXCore
import XCTest
@testable import SparseCoding

func randomDictionary(filters: Int, channels: Int, length: Int, seed: UInt64) -> ConvolutionalDictionary {
    var generator = SeededGenerator(seed: seed)
    var dictionary = ConvolutionalDictionary(filters: filters, channels: channels, length: length,
                                             weights: (0..<(filters * channels * length)).map { _ in generator.normal() })
    dictionary.projectOntoUnitBall(exactly: true)
    return dictionary
}

final class ConvolutionTests: XCTestCase {
    func testSynthesisAndCorrelationAreAdjointIncludingTheBoundaries() {
        for (channels, filters, length, samples) in [(1, 3, 45, 400), (4, 2, 7, 50), (3, 1, 10, 10), (2, 2, 5, 6)] {
            let dictionary = randomDictionary(filters: filters, channels: channels, length: length, seed: UInt64(samples))
            var generator = SeededGenerator(seed: 9)
            let M = dictionary.codeLength(samples: samples)
            let x = (0..<(filters * M)).map { _ in generator.normal() }
            let y = (0..<(channels * samples)).map { _ in generator.normal() }
            let Hx = Convolution.synthesize(dictionary, codes: x, samples: samples)
            let Hty = Convolution.correlate(dictionary, residual: y, samples: samples)
            let left = zip(Hx, y).reduce(0) { $0 + $1.0 * $1.1 }
            let right = zip(x, Hty).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(left, right, accuracy: 1e-10 * max(1, abs(left)), "\(channels)×\(filters)×\(length), N \(samples)")
        }
    }

    func testASingleCodePlacesTheFilterAtItsPosition() {
        let dictionary = ConvolutionalDictionary(filters: 1, channels: 2, length: 3, weights: [1, 2, 3, -1, -2, -3])
        var codes = [Double](repeating: 0, count: 8)
        codes[5] = 2
        let y = Convolution.synthesize(dictionary, codes: codes, samples: 10)
        XCTAssertEqual(Array(y[0..<10]), [0, 0, 0, 0, 0, 2, 4, 6, 0, 0])
        XCTAssertEqual(Array(y[10..<20]), [0, 0, 0, 0, 0, -2, -4, -6, 0, 0])
    }
}

final class SparseCoderTests: XCTestCase {
    /// ‖H‖² by power iteration on HᵀH, for checking the bound.
    func operatorNormSquared(_ dictionary: ConvolutionalDictionary, samples: Int) -> Double {
        var generator = SeededGenerator(seed: 1)
        var x = (0..<(dictionary.filters * dictionary.codeLength(samples: samples))).map { _ in generator.normal() }
        var estimate = 0.0
        for _ in 0..<500 {
            let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            x = x.map { $0 / norm }
            let next = Convolution.correlate(dictionary, residual: Convolution.synthesize(dictionary, codes: x, samples: samples),
                                             samples: samples)
            estimate = zip(x, next).reduce(0) { $0 + $1.0 * $1.1 }
            x = next
        }
        return estimate
    }

    func testLipschitzBoundIsAtLeastTheOperatorNormAndClose() {
        for (channels, filters, length) in [(1, 3, 45), (4, 2, 12), (2, 5, 30)] {
            let dictionary = randomDictionary(filters: filters, channels: channels, length: length, seed: UInt64(length))
            let exact = operatorNormSquared(dictionary, samples: 40 * length)
            let bound = SparseCoder.lipschitzBound(dictionary)
            XCTAssertGreaterThanOrEqual(bound, exact)
            XCTAssertLessThan(bound, 1.1 * exact, "the bound should be nearly tight")
        }
    }

    func testLambdaAtOrAboveLambdaMaxGivesAllZeroCodes() {
        let dictionary = randomDictionary(filters: 2, channels: 2, length: 9, seed: 3)
        var generator = SeededGenerator(seed: 4)
        let y = (0..<200).map { _ in generator.normal() }
        for nonnegative in [true, false] {
            let lambdaMax = SparseCoder.lambdaMax(dictionary, recording: y, samples: 100, nonnegative: nonnegative)
            let at = SparseCoder.encode(dictionary, recording: y, samples: 100,
                                        options: SparseCodingOptions(lambda: lambdaMax, nonnegative: nonnegative))
            XCTAssertTrue(at.codes.allSatisfy { $0 == 0 })
            let below = SparseCoder.encode(dictionary, recording: y, samples: 100,
                                           options: SparseCodingOptions(lambda: 0.9 * lambdaMax, nonnegative: nonnegative))
            XCTAssertTrue(below.codes.contains { $0 != 0 })
        }
    }

    func testObjectiveMatchesTheReferenceSolution() throws {
        struct Reference: Decodable {
            struct Case: Decodable {
                let channels: Int, filters: Int, length: Int, samples: Int
                let nonnegative: Bool
                let lambda: Double
                let weights: [Double], recording: [Double], codes: [Double]
                let objective: Double
            }
            let cases: [Case]
        }
        let url = try XCTUnwrap(Bundle.module.url(forResource: "sparse_coding_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        XCTAssertEqual(reference.cases.count, 3)
        for item in reference.cases {
            let dictionary = ConvolutionalDictionary(filters: item.filters, channels: item.channels, length: item.length,
                                                     weights: item.weights)
            let result = SparseCoder.encode(dictionary, recording: item.recording, samples: item.samples, options:
                SparseCodingOptions(lambda: item.lambda, nonnegative: item.nonnegative, maxIterations: 20_000,
                                    tolerance: 1e-13, recordsObjective: true))
            XCTAssertEqual(result.objective.last!, item.objective, accuracy: 1e-9 * item.objective)
            for (ours, theirs) in zip(result.codes, item.codes) { XCTAssertEqual(ours, theirs, accuracy: 1e-5) }
            if item.nonnegative { XCTAssertTrue(result.codes.allSatisfy { $0 >= 0 }) }
            // Locally greedy coordinate descent reaches the same optimum.
            let greedy = LocallyGreedyCoordinateDescent.encode(dictionary, recording: item.recording, samples: item.samples,
                options: SparseCodingOptions(lambda: item.lambda, nonnegative: item.nonnegative, maxIterations: 100_000,
                                             tolerance: 1e-12))
            XCTAssertEqual(greedy.objective.last!, item.objective, accuracy: 1e-9 * item.objective)
            for (ours, theirs) in zip(greedy.codes, item.codes) { XCTAssertEqual(ours, theirs, accuracy: 1e-5) }
        }
    }

    func testPlantedSpikesAreFoundAtTheirPositions() {
        let dictionary = randomDictionary(filters: 2, channels: 1, length: 20, seed: 5)
        var codes = [Double](repeating: 0, count: 2 * 481)
        for (c, s) in [(0, 30), (1, 100), (0, 250), (1, 400)] { codes[c * 481 + s] = 5 }
        let y = Convolution.synthesize(dictionary, codes: codes, samples: 500)
        let result = SparseCoder.encode(dictionary, recording: y, samples: 500,
                                        options: SparseCodingOptions(lambda: 0.05, maxIterations: 2000, tolerance: 1e-10))
        let found = result.codes.enumerated().filter { $0.element > 1 }.map(\.offset)
        XCTAssertEqual(found, [30, 250, 481 + 100, 481 + 400])
    }
}
