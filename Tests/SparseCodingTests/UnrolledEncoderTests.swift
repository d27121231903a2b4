import CKernels
import NFXCore
import XCTest
@testable import SparseCoding

/// A small recording of `truth`'s filters at sparse positions plus noise, and the codes that made it.
private func plantedRecording(_ truth: ConvolutionalDictionary, samples N: Int, spikes: Int, noise: Double,
                              seed: UInt64) -> (y: [Double], codes: [Double]) {
    var generator = SeededGenerator(seed: seed)
    var codes = [Double](repeating: 0, count: truth.filters * truth.codeLength(samples: N))
    for _ in 0..<spikes { codes[generator.int(below: codes.count)] = generator.uniform(in: 1..<3) }
    let y = Convolution.synthesize(truth, codes: codes, samples: N).map { $0 + noise * generator.normal() }
    return (y, codes)
}

/// The T steps of the encoder written densely, the way the paper states them: two full convolutions per step.
private func denseUnrolledSteps(_ dictionary: ConvolutionalDictionary, y: [Double], samples N: Int, steps: Int,
                                lipschitz: Double, lambda: Double, nonnegative: Bool, start: [Double]) -> [Double] {
    var x = start, z = start
    var t = 1.0
    let threshold = lambda / lipschitz
    for _ in 0..<steps {
        var residual = Convolution.synthesize(dictionary, codes: z, samples: N)
        for index in residual.indices { residual[index] -= y[index] }
        let gradient = Convolution.correlate(dictionary, residual: residual, samples: N)
        let next = (1 + (1 + 4 * t * t).squareRoot()) / 2
        let momentum = (t - 1) / next
        t = next
        for index in x.indices {
            let v = z[index] - gradient[index] / lipschitz
            let shrunk = nonnegative ? max(0, v - threshold)
                : (v > threshold ? v - threshold : (v < -threshold ? v + threshold : 0))
            z[index] = shrunk + momentum * (shrunk - x[index])
            x[index] = shrunk
        }
    }
    return x
}

final class UnrolledEncoderTests: XCTestCase {
    func testSparseStepsMatchTheDenseFISTASteps() {
        let truth = randomDictionary(filters: 3, channels: 2, length: 12, seed: 21)
        let dictionary = randomDictionary(filters: 3, channels: 2, length: 12, seed: 22)
        let N = 300
        let (y, _) = plantedRecording(truth, samples: N, spikes: 25, noise: 0.1, seed: 23)
        let lipschitz = SparseCoder.lipschitzBound(dictionary)
        defer { nfx_use_portable_kernels(0) }
        // Both builds of the C kernels (AVX2/FMA and portable), on a CPU that has AVX2.
        for (nonnegative, warm, portable) in [(true, false, 0), (true, true, 1), (false, false, 1), (false, true, 0),
                                              (true, true, 0), (false, true, 1)] as [(Bool, Bool, Int32)] {
            nfx_use_portable_kernels(portable)
            let encoder = UnrolledEncoder(dictionary: dictionary, steps: 25, lipschitz: lipschitz, lambda: 0.3,
                                          nonnegative: nonnegative)
            let start = warm ? encoder.encode(y, samples: N) : SparseCodes()
            let M = dictionary.codeLength(samples: N)
            let sparse = encoder.encode(y, samples: N, start: start).dense(filters: 3, positions: M)
            let dense = denseUnrolledSteps(dictionary, y: y, samples: N, steps: 25, lipschitz: lipschitz,
                                           lambda: 0.3, nonnegative: nonnegative,
                                           start: start.dense(filters: 3, positions: M))
            let scale = dense.reduce(0) { max($0, abs($1)) }
            XCTAssertGreaterThan(scale, 0)
            let difference = zip(sparse, dense).reduce(0) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThan(difference, 1e-12 * scale, "nonnegative \(nonnegative), warm \(warm), portable \(portable)")
            XCTAssertTrue(zip(sparse, dense).allSatisfy { ($0 == 0) == ($1 == 0) }, "the same support")
        }
    }

    func testGramProductMatchesDenseHᵀHWithCodesAtTheWindowEdgesAndWritesNothingOutside() {
        // nfx_add_gram_product against Hᵀ(H x) by the two convolutions, codes at the first and last positions of
        // every filter (where the filters' cross-correlations are clipped), windows down to one position; the
        // output sits between sentinels that must survive.
        let (C, K, L) = (3, 2, 12)
        let dictionary = randomDictionary(filters: C, channels: K, length: L, seed: 51)
        let width = 2 * L - 1
        let rows = UnrolledEncoder.gramRows(dictionary)
        defer { nfx_use_portable_kernels(0) }
        for portable: Int32 in [0, 1] {
            nfx_use_portable_kernels(portable)
            for N in [L, L + 1, L + 7, 5 * L] {
                let M = dictionary.codeLength(samples: N)
                var codes = [Double](repeating: 0, count: C * M)
                var indices: [Int32] = [], values: [Double] = []
                for c in 0..<C {
                    for s in Set([0, M - 1, M / 2]) {
                        let value = 1 + Double(c) + 0.25 * Double(s)
                        codes[c * M + s] = value
                        indices.append(Int32(c * M + s))
                        values.append(value)
                    }
                }
                let expected = Convolution.correlate(dictionary, residual: Convolution.synthesize(dictionary, codes: codes,
                                                                                               samples: N), samples: N)
                let pad = 2 * width, sentinel = 12345.0
                var out = [Double](repeating: sentinel, count: C * M + 2 * pad)
                for index in 0..<(C * M) { out[pad + index] = 0 }
                out.withUnsafeMutableBufferPointer { buffer in
                    nfx_add_gram_product(indices, values, indices.count, M, C, L, rows, buffer.baseAddress! + pad)
                }
                for index in 0..<pad {
                    XCTAssertEqual(out[index], sentinel, "before, N \(N)")
                    XCTAssertEqual(out[pad + C * M + index], sentinel, "after, N \(N)")
                }
                for index in 0..<(C * M) {
                    XCTAssertEqual(out[pad + index], expected[index], accuracy: 1e-12, "N \(N), index \(index), portable \(portable)")
                }
            }
        }
    }

    func testGradientThroughTheUnrolledStepsMatchesFiniteDifferences() {
        let dictionary = randomDictionary(filters: 2, channels: 2, length: 6, seed: 11)
        let truth = randomDictionary(filters: 2, channels: 2, length: 6, seed: 13)
        let (y, _) = plantedRecording(truth, samples: 40, spikes: 6, noise: 0.05, seed: 12)
        let lipschitz = SparseCoder.lipschitzBound(dictionary)
        for (nonnegative, warm) in [(true, false), (true, true), (false, true)] {
            let make = { (d: ConvolutionalDictionary) in
                UnrolledEncoder(dictionary: d, steps: 8, lipschitz: lipschitz, lambda: 0.1, nonnegative: nonnegative)
            }
            // The start is a constant of the network: the same codes for every perturbed dictionary.
            let start = warm ? UnrolledEncoder(dictionary: truth, steps: 3, lipschitz: lipschitz, lambda: 0.1,
                                               nonnegative: nonnegative).encode(y, samples: 40) : SparseCodes()
            let pass = make(dictionary).lossAndGradient(y, samples: 40, start: start)
            let analytic = pass.gradient
            // Something to check: non-zero codes, and a gradient unlike the decoder's alone (no steps).
            XCTAssertFalse(pass.codes.values.isEmpty)
            let decoderOnly = UnrolledEncoder(dictionary: dictionary, steps: 0, lipschitz: lipschitz, lambda: 0.1,
                                              nonnegative: nonnegative).lossAndGradient(y, samples: 40, start: pass.codes).gradient
            XCTAssertGreaterThan(zip(analytic, decoderOnly).reduce(0) { max($0, abs($1.0 - $1.1)) }, 1e-3)
            let epsilon = 1e-6
            var worst = 0.0
            for index in dictionary.weights.indices {
                var plus = dictionary, minus = dictionary
                plus.weights[index] += epsilon
                minus.weights[index] -= epsilon
                let numeric = (make(plus).lossAndGradient(y, samples: 40, start: start).loss
                    - make(minus).lossAndGradient(y, samples: 40, start: start).loss) / (2 * epsilon)
                worst = max(worst, abs(numeric - analytic[index]) / max(1, abs(numeric)))
            }
            XCTAssertLessThan(worst, 1e-5, "nonnegative \(nonnegative), warm \(warm)")
        }
    }

    func testLossIsTheObjectiveAtTheEncoderOutput() {
        let dictionary = randomDictionary(filters: 2, channels: 1, length: 10, seed: 31)
        let (y, _) = plantedRecording(dictionary, samples: 200, spikes: 8, noise: 0.1, seed: 32)
        let encoder = UnrolledEncoder(dictionary: dictionary, steps: 12,
                                      lipschitz: SparseCoder.lipschitzBound(dictionary), lambda: 0.4)
        let result = encoder.lossAndGradient(y, samples: 200)
        let M = dictionary.codeLength(samples: 200)
        let codes = result.codes.dense(filters: 2, positions: M)
        XCTAssertEqual(codes, encoder.encode(y, samples: 200).dense(filters: 2, positions: M))
        XCTAssertEqual(result.loss, SparseCoder.value(dictionary, codes: codes, recording: y, samples: 200, lambda: 0.4),
                       accuracy: 1e-10 * result.loss)
    }

    func testWarmStartedStepsReachTheLassoMinimum() {
        // Visits of 60 steps, each from the previous visit's codes (as training does), reach the minimum that
        // locally greedy coordinate descent finds to a tight tolerance.
        let truth = randomDictionary(filters: 3, channels: 1, length: 15, seed: 41)
        let N = 600
        let (y, _) = plantedRecording(truth, samples: N, spikes: 20, noise: 0.2, seed: 42)
        let lambda = 0.5
        let encoder = UnrolledEncoder(dictionary: truth, steps: 60, lipschitz: SparseCoder.lipschitzBound(truth),
                                      lambda: lambda)
        var codes = SparseCodes()
        for _ in 0..<20 { codes = encoder.encode(y, samples: N, start: codes) }
        let M = truth.codeLength(samples: N)
        let reached = SparseCoder.value(truth, codes: codes.dense(filters: 3, positions: M), recording: y, samples: N,
                                        lambda: lambda)
        let minimum = LocallyGreedyCoordinateDescent.encode(truth, recording: y, samples: N,
                                                            options: SparseCodingOptions(lambda: lambda,
                                                                                         maxIterations: 100_000,
                                                                                         tolerance: 1e-12))
        XCTAssertEqual(reached, minimum.objective.last!, accuracy: 1e-8 * reached)
    }
}
