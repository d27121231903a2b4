import Foundation
import LinearAlgebra
import NFXCore
import SparseCoding
import XCTest
@testable import SpikeSorting

// Tolerances, and why:
// - SOS coefficients vs SciPy: 1e-10 relative to max(1, |coefficient|) (same algorithm, different rounding).
// - sosfiltfilt output vs SciPy: 1e-9 relative to the output's largest magnitude.
// - Magnitude response at the band centre and edges: 1e-9 (exact identities of the pre-warped Butterworth design).
// - Sines after zero-phase filtering, far from the ends: 1e-6 absolute on a unit sine in the band; amplitudes
//   1e-3 relative outside it (least-squares fit over the middle of the signal).
// - CMR: the median across channels of the output is 0 to 1e-12; a common signal is removed to 1e-12.
// - Whitening: output covariance = I to 1e-9 when the covariance is measured on all the data, to 0.02 when it is
//   measured on 20 × 10,000 sampled samples of a longer recording; W vs a direct eigendecomposition to 1e-9.
final class PreprocessingTests: XCTestCase {
    // MARK: Fixture

    private struct Reference: Decodable {
        struct Design: Decodable {
            let name: String
            let order: Int
            let band: [Double]
            let sampling_rate: Double
            let scipy_btype: String
            let sos: [[Double]]
        }
        struct FiltFilt: Decodable {
            let design: String
            let padlen: Int
            let output: [Double]
        }
        let designs: [Design]
        let channels: Int
        let samples: Int
        let input: [Double]
        let filtfilt: [FiltFilt]
    }

    private func reference() throws -> Reference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "preprocessing_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    private func filter(for design: Reference.Design) throws -> ButterworthBandpass {
        try ButterworthBandpass(order: design.order, low: design.band[0], high: design.band[1],
                                samplingRate: design.sampling_rate)
    }

    // MARK: Butterworth design and zero-phase filtering

    func testASeparateLowEdgeOrderStacksSciPysHighPassAndLowPass() throws {
        // numpy.vstack([scipy.signal.butter(1, 150, btype="highpass", fs=30000, output="sos"),
        //               scipy.signal.butter(5, 6000, btype="lowpass", fs=30000, output="sos")]), SciPy 1.17.1.
        let expected: [[Double]] = [
            [0.9845337085968967, -0.9845337085968967, 0.0, 1.0, -0.9690674171937933, 0.0],
            [0.02193962068846417, 0.04387924137692834, 0.02193962068846417, 1.0, -0.15838444032453627, 0.0],
            [1.0, 2.0, 1.0, 1.0, -0.3492860258606905, 0.13031332327594414],
            [1.0, 1.0, 0.0, 1.0, -0.4776547730940111, 0.5457233155094577],
        ]
        let filter = try ButterworthBandpass(order: 5, lowEdgeOrder: 1, low: 150, high: 6000, samplingRate: 30000)
        XCTAssertEqual(filter.sections.count, expected.count)
        for (section, row) in zip(filter.sections, expected) {
            for (value, reference) in zip(section.coefficients, row) {
                XCTAssertEqual(value, reference, accuracy: 1e-10 * max(1, abs(reference)))
            }
        }
        // Each edge at −3 dB for one pass, as the two filters it stacks.
        XCTAssertEqual(filter.gain(at: 150), 0.5.squareRoot(), accuracy: 1e-3)
        XCTAssertEqual(filter.gain(at: 6000), 0.5.squareRoot(), accuracy: 1e-3)
        // Equal orders are the plain band-pass; above Nyquist only the lower edge's order matters.
        XCTAssertEqual(try ButterworthBandpass(order: 3, lowEdgeOrder: 3, low: 300, high: 6000, samplingRate: 30000),
                       try ButterworthBandpass(order: 3, low: 300, high: 6000, samplingRate: 30000))
        XCTAssertEqual(try ButterworthBandpass(order: 5, lowEdgeOrder: 2, low: 300, high: 6000, samplingRate: 10000).sections,
                       try ButterworthBandpass(order: 2, low: 300, high: 6000, samplingRate: 10000).sections)
        XCTAssertThrowsError(try ButterworthBandpass(order: 5, lowEdgeOrder: 0, samplingRate: 30000))
    }

    func testSectionsMatchSciPyButter() throws {
        let reference = try reference()
        XCTAssertEqual(reference.designs.count, 4)
        for design in reference.designs {
            let filter = try filter(for: design)
            XCTAssertEqual(filter.sections.count, design.sos.count, design.name)
            XCTAssertEqual(filter.high == nil, design.scipy_btype == "highpass", design.name)
            for (section, row) in zip(filter.sections, design.sos) {
                for (ours, theirs) in zip(section.coefficients, row) {
                    XCTAssertEqual(ours, theirs, accuracy: 1e-10 * max(1, abs(theirs)), design.name)
                }
            }
        }
    }

    func testZeroPhaseFilteringMatchesSciPySosfiltfilt() throws {
        let reference = try reference()
        XCTAssertEqual(reference.filtfilt.count, 2)
        for item in reference.filtfilt {
            let design = try XCTUnwrap(reference.designs.first { $0.name == item.design })
            let filter = try filter(for: design)
            XCTAssertEqual(filter.padLength(samples: reference.samples), item.padlen, item.design)
            let output = filter.filtered(reference.input, channels: reference.channels, samples: reference.samples)
            let scale = item.output.map(abs).max()!
            XCTAssertEqual(output.count, item.output.count)
            for (ours, theirs) in zip(output, item.output) {
                XCTAssertEqual(ours, theirs, accuracy: 1e-9 * scale, item.design)
            }
        }
    }

    func testGainIsOneAtTheBandCentreAndHalfPowerAtTheEdges() throws {
        for (order, low, high, rate) in [(5, 300.0, 6000.0, 30000.0), (3, 300.0, 6000.0, 20000.0),
                                         (4, 1000.0, 2000.0, 25000.0), (2, 500.0, 9000.0, 20000.0)] {
            let filter = try ButterworthBandpass(order: order, low: low, high: high, samplingRate: rate)
            // The bilinear transform maps analog frequency tan(πf/fs) to f; the pass-band centre is the geometric
            // mean of the pre-warped edges.
            let centre = rate / Double.pi * atan((tan(Double.pi * low / rate) * tan(Double.pi * high / rate)).squareRoot())
            XCTAssertEqual(filter.gain(at: centre), 1, accuracy: 1e-9)
            XCTAssertEqual(filter.gain(at: low), 1 / 2.0.squareRoot(), accuracy: 1e-9)
            XCTAssertEqual(filter.gain(at: high), 1 / 2.0.squareRoot(), accuracy: 1e-9)
            // Forward and backward: the gain squares, so the edges are at ½.
            XCTAssertEqual(pow(filter.gain(at: low), 2), 0.5, accuracy: 1e-9)
            XCTAssertEqual(filter.gain(at: 0), 0, accuracy: 1e-12)
        }
    }

    func testSineInsideTheBandPassesWithUnitAmplitudeAndNoPhaseShift() throws {
        let rate = 30000.0, samples = 30000, frequency = 1500.0
        let filter = try ButterworthBandpass(samplingRate: rate)
        let input = (0..<samples).map { sin(2 * Double.pi * frequency * Double($0) / rate + 0.3) }
        let output = filter.filtered(input, channels: 1, samples: samples)
        let expectedGain = pow(filter.gain(at: frequency), 2)
        XCTAssertEqual(expectedGain, 1, accuracy: 1e-6)
        // Same phase as the input (zero phase), away from the ends where the padding's transient lives.
        for t in 3000..<(samples - 3000) {
            XCTAssertEqual(output[t], expectedGain * input[t], accuracy: 1e-6)
        }
        let fit = sineFit(output[3000..<(samples - 3000)], start: 3000, frequency: frequency, rate: rate)
        XCTAssertEqual(fit.amplitude, 1, accuracy: 1e-6)
        XCTAssertEqual(fit.phase, 0.3, accuracy: 1e-6)
    }

    func testSinesOutsideTheBandAreAttenuatedAsTheButterworthFormulaPredicts() throws {
        let rate = 30000.0, samples = 60000, order = 5, low = 300.0, high = 6000.0
        let filter = try ButterworthBandpass(order: order, low: low, high: high, samplingRate: rate)
        for frequency in [60.0, 150.0, 10000.0, 13000.0] {
            // Butterworth band-pass: |H|² = 1 / (1 + ((Ω² − Ω_lΩ_h) / (Ω·(Ω_h − Ω_l)))^(2N)), on the frequency axis
            // Ω = tan(πf/fs) that the bilinear transform warps to.
            func warp(_ f: Double) -> Double { tan(Double.pi * f / rate) }
            let (omega, omegaLow, omegaHigh) = (warp(frequency), warp(low), warp(high))
            let ratio = (omega * omega - omegaLow * omegaHigh) / (omega * (omegaHigh - omegaLow))
            let butterworth = 1 / (1 + pow(ratio, Double(2 * order))).squareRoot()
            XCTAssertEqual(filter.gain(at: frequency), butterworth, accuracy: 1e-9 * butterworth)

            let input = (0..<samples).map { sin(2 * Double.pi * frequency * Double($0) / rate) }
            let output = filter.filtered(input, channels: 1, samples: samples)
            let fit = sineFit(output[15000..<45000], start: 15000, frequency: frequency, rate: rate)
            XCTAssertEqual(fit.amplitude, butterworth * butterworth, accuracy: 1e-3 * butterworth * butterworth,
                           "\(frequency) Hz")
            XCTAssertLessThan(fit.amplitude, 0.02)
        }
    }

    func testConstantOffsetIsRemoved() throws {
        let filter = try ButterworthBandpass(samplingRate: 30000)
        let output = filter.filtered([Double](repeating: 7.5, count: 5000), channels: 1, samples: 5000)
        XCTAssertLessThan(output.map(abs).max()!, 1e-9)
        // A DC offset under a sine leaves the sine.
        let rate = 30000.0
        let input = (0..<30000).map { 100 + sin(2 * Double.pi * 2000 * Double($0) / rate) }
        let filtered = filter.filtered(input, channels: 1, samples: 30000)
        let middle = filtered[3000..<27000]
        XCTAssertEqual(middle.reduce(0, +) / Double(middle.count), 0, accuracy: 1e-6)
    }

    func testUpperEdgeAtOrAboveNyquistGivesAHighPass() throws {
        let atNyquist = try ButterworthBandpass(order: 3, low: 300, high: 5000, samplingRate: 10000)
        let above = try ButterworthBandpass(order: 3, low: 300, high: .infinity, samplingRate: 10000)
        XCTAssertNil(atNyquist.high)
        XCTAssertEqual(atNyquist.sections, above.sections)
        XCTAssertEqual(above.gain(at: 300), 1 / 2.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(above.gain(at: 5000), 1, accuracy: 1e-9)
        // Just below Nyquist the band is designed as asked.
        let below = try ButterworthBandpass(order: 3, low: 300, high: 4990, samplingRate: 10000)
        XCTAssertEqual(below.high, 4990)
        XCTAssertEqual(below.gain(at: 4990), 1 / 2.0.squareRoot(), accuracy: 1e-9)
    }

    func testInvalidBandsThrowTheTypedError() {
        for (low, high) in [(0.0, 6000.0), (-5.0, 6000.0), (6000.0, 300.0), (300.0, 300.0), (.nan, 6000.0),
                            (300.0, .nan), (.infinity, .infinity), (15000.0, 20000.0), (20000.0, 25000.0)] {
            XCTAssertThrowsError(try ButterworthBandpass(low: low, high: high, samplingRate: 30000),
                                 "\(low)–\(high)") { error in
                guard case let .invalidOption(flag, message)? = error as? SpikeSortingError else {
                    return XCTFail("\(error) is not SpikeSortingError.invalidOption")
                }
                XCTAssertEqual(flag, "--band")
                XCTAssertFalse(message.isEmpty)
            }
        }
        XCTAssertThrowsError(try ButterworthBandpass(order: 0, samplingRate: 30000)) { error in
            guard case .invalidOption("--filter-order", _)? = error as? SpikeSortingError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try ButterworthBandpass(samplingRate: 0)) { error in
            XCTAssertEqual(error as? SpikeSortingError, .nonPositiveSamplingRate(0))
        }
        XCTAssertThrowsError(try Preprocessing(low: 6000, high: 300).run([1, 2, 3], channels: 1, samples: 3,
                                                                         samplingRate: 30000)) { error in
            guard case .invalidOption("--band", _)? = error as? SpikeSortingError else { return XCTFail("\(error)") }
        }
    }

    func testRecordingShorterThanThePadIsFilteredWithAShorterPad() throws {
        let filter = try ButterworthBandpass(samplingRate: 30000)
        XCTAssertEqual(filter.defaultPadLength, 33)
        XCTAssertEqual(filter.padLength(samples: 10), 9)
        XCTAssertEqual(filter.padLength(samples: 1), 0)
        let output = filter.filtered((0..<10).map { Double($0 * $0) }, channels: 1, samples: 10)
        XCTAssertTrue(output.allSatisfy(\.isFinite))
        XCTAssertEqual(filter.filtered([4], channels: 1, samples: 1)[0], 0, accuracy: 1e-12)  // DC gain 0
    }

    func testFilterResultDoesNotDependOnThreadCount() throws {
        let (channels, samples) = (5, 4000)
        let recording = gaussian(count: channels * samples, seed: 3)
        let filter = try ButterworthBandpass(samplingRate: 20000)
        let one = filter.filtered(recording, channels: channels, samples: samples, threads: 1)
        let three = filter.filtered(recording, channels: channels, samples: samples, threads: 3)
        XCTAssertEqual(one, three)
        // Each channel on its own gives the same values.
        let second = filter.filtered(Array(recording[samples..<(2 * samples)]), channels: 1, samples: samples)
        XCTAssertEqual(Array(one[samples..<(2 * samples)]), second)
    }

    // MARK: Common median reference

    func testMedianAcrossChannelsOfTheOutputIsZeroAtEverySample() {
        for channels in [2, 3, 4, 5, 8, 17, 33, 64] {
            let samples = 700
            let recording = gaussian(count: channels * samples, seed: UInt64(channels))
            let output = CommonMedianReference.applied(recording, channels: channels, samples: samples)
            for t in 0..<samples {
                let column = (0..<channels).map { output[$0 * samples + t] }
                XCTAssertEqual(sortedMedian(column), 0, accuracy: 1e-12, "\(channels) channels, sample \(t)")
                // And it is the input minus the input's median (checked against a plain sort).
                let inputColumn = (0..<channels).map { recording[$0 * samples + t] }
                XCTAssertEqual(output[t], recording[t] - sortedMedian(inputColumn), accuracy: 1e-12)
            }
        }
    }

    func testSignalCommonToAllChannelsIsRemoved() {
        let (channels, samples) = (32, 3000)
        let own = gaussian(count: channels * samples, seed: 11)
        let common = (0..<samples).map { 50 * sin(Double($0) / 40) + Double($0 % 97) }
        var recording = own
        for channel in 0..<channels {
            for t in 0..<samples { recording[channel * samples + t] += common[t] }
        }
        // The median shifts with a common signal, so referencing own + common gives exactly what referencing own
        // does: the common signal is gone.
        let referenced = CommonMedianReference.applied(recording, channels: channels, samples: samples)
        let expected = CommonMedianReference.applied(own, channels: channels, samples: samples)
        for (ours, theirs) in zip(referenced, expected) { XCTAssertEqual(ours, theirs, accuracy: 1e-12) }
        // A purely common signal vanishes.
        let onlyCommon = (0..<channels).flatMap { _ in common }
        let cleaned = CommonMedianReference.applied(onlyCommon, channels: channels, samples: samples)
        XCTAssertEqual(cleaned.map(abs).max()!, 0)
    }

    func testSingleChannelIsLeftUnchangedByCommonMedianReference() {
        let recording = gaussian(count: 500, seed: 5)
        XCTAssertEqual(CommonMedianReference.applied(recording, channels: 1, samples: 500), recording)
    }

    func testCommonMedianReferenceDoesNotDependOnThreadCount() {
        let (channels, samples) = (7, 5000)
        let recording = gaussian(count: channels * samples, seed: 8)
        XCTAssertEqual(CommonMedianReference.applied(recording, channels: channels, samples: samples, threads: 1),
                       CommonMedianReference.applied(recording, channels: channels, samples: samples, threads: 4))
    }

    // MARK: Whitening

    func testWhitenedCovarianceIsIdentityOnCorrelatedGaussianData() throws {
        let (channels, samples) = (6, 60_000)
        let recording = correlatedGaussian(channels: channels, samples: samples, seed: 21)
        let input = secondMoment(recording, channels: channels, samples: samples)
        XCTAssertGreaterThan(abs(input[0, 1]), 0.3)  // really correlated
        let whitening = try SpatialWhitening(fitting: recording, channels: channels, samples: samples)
        let output = try whitening.applied(to: recording, channels: channels, samples: samples)
        let covariance = secondMoment(output, channels: channels, samples: samples)
        for i in 0..<channels {
            for j in 0..<channels { XCTAssertEqual(covariance[i, j], i == j ? 1 : 0, accuracy: 1e-9) }
        }
        // W⁻¹ undoes W.
        let restored = try SpatialWhitening(fitting: recording, channels: channels, samples: samples).inverse
        let identity = try multiply(restored, whitening.matrix)
        for i in 0..<channels {
            for j in 0..<channels { XCTAssertEqual(identity[i, j], i == j ? 1 : 0, accuracy: 1e-9) }
        }
    }

    func testWhitenedCovarianceIsNearIdentityWhenMeasuredOnSampledChunks() throws {
        let (channels, samples) = (4, 400_000)  // longer than the 20 × 10,000 sampled samples
        let recording = correlatedGaussian(channels: channels, samples: samples, seed: 4)
        let whitening = try SpatialWhitening(fitting: recording, channels: channels, samples: samples)
        let output = try whitening.applied(to: recording, channels: channels, samples: samples)
        let covariance = secondMoment(output, channels: channels, samples: samples)
        for i in 0..<channels {
            for j in 0..<channels { XCTAssertEqual(covariance[i, j], i == j ? 1 : 0, accuracy: 0.02) }
        }
    }

    func testTemplatesWhitenedAndUnwhitenedComeBackAndMatchTheRecordingsWhitening() throws {
        let (channels, samples) = (3, 20_000)
        let recording = correlatedGaussian(channels: channels, samples: samples, seed: 31)
        let whitening = try SpatialWhitening(fitting: recording, channels: channels, samples: samples)
        // Two "templates" of 5 samples cut from the recording: mixing them equals whitening those samples.
        let length = 5
        var templates: [Double] = []
        for unit in 0..<2 {
            for k in 0..<channels {
                let start = k * samples + 100 * unit
                templates += recording[start..<(start + length)]
            }
        }
        let whitened = SpatialWhitening.mixingChannels(whitening.matrix, of: templates, count: 2, length: length)
        let whitenedRecording = try whitening.applied(to: recording, channels: channels, samples: samples)
        for unit in 0..<2 {
            for k in 0..<channels {
                for t in 0..<length {
                    let index = (unit * channels + k) * length + t
                    XCTAssertEqual(whitened[index], whitenedRecording[k * samples + 100 * unit + t], accuracy: 1e-9)
                }
            }
        }
        let back = SpatialWhitening.mixingChannels(whitening.inverse, of: whitened, count: 2, length: length)
        for (original, restored) in zip(templates, back) { XCTAssertEqual(original, restored, accuracy: 1e-9) }
    }

    func testWhiteningMatrixMatchesADirectEigendecomposition() throws {
        let (channels, samples) = (5, 20_000)
        let recording = correlatedGaussian(channels: channels, samples: samples, seed: 9)
        let whitening = try SpatialWhitening(fitting: recording, channels: channels, samples: samples)
        // W = Σ_k u_k u_kᵀ / √(s_k + ε) from the eigendecomposition of XXᵀ/n computed here by plain loops.
        let covariance = secondMoment(recording, channels: channels, samples: samples)
        let (values, vectors) = try symmetricEigen(covariance)
        XCTAssertEqual(whitening.epsilon, 1e-16)  // median of x² is above 1 here, so SpikeInterface's floor
        for i in 0..<channels {
            for j in 0..<channels {
                var expected = 0.0
                for k in 0..<channels { expected += vectors[i, k] * vectors[j, k] / (values[k] + 1e-16).squareRoot() }
                XCTAssertEqual(whitening.matrix[i, j], expected, accuracy: 1e-9 * max(1, abs(expected)))
                XCTAssertEqual(whitening.matrix[i, j], whitening.matrix[j, i])
            }
        }
    }

    func testWhiteningOfTinyValuedDataUsesSpikeInterfacesScaledEpsilon() throws {
        let (channels, samples) = (3, 10_000)
        let recording = correlatedGaussian(channels: channels, samples: samples, seed: 2).map { $0 * 1e-3 }
        let whitening = try SpatialWhitening(fitting: recording, channels: channels, samples: samples)
        let squares = recording.map { $0 * $0 }.sorted()
        let median = (squares[squares.count / 2 - 1] + squares[squares.count / 2]) / 2
        XCTAssertEqual(whitening.epsilon, median * 1e-3, accuracy: 1e-12 * median)
    }

    func testSingleChannelWhiteningScalesToUnitSecondMoment() throws {
        let recording = gaussian(count: 8000, seed: 1).map { 4 * $0 }
        let whitening = try SpatialWhitening(fitting: recording, channels: 1, samples: 8000)
        let output = try whitening.applied(to: recording, channels: 1, samples: 8000)
        XCTAssertEqual(output.map { $0 * $0 }.reduce(0, +) / 8000, 1, accuracy: 1e-12)
    }

    func testWhiteningWithMeanRemovalCentresFirst() throws {
        let (channels, samples) = (3, 20_000)
        var recording = correlatedGaussian(channels: channels, samples: samples, seed: 6)
        for t in 0..<samples { recording[t] += 10 }
        let whitening = try SpatialWhitening(fitting: recording, channels: channels, samples: samples,
                                             subtractMean: true)
        XCTAssertEqual(whitening.mean![0], 10, accuracy: 0.1)
        let output = try whitening.applied(to: recording, channels: channels, samples: samples)
        let covariance = secondMoment(output, channels: channels, samples: samples)
        for i in 0..<channels {
            for j in 0..<channels { XCTAssertEqual(covariance[i, j], i == j ? 1 : 0, accuracy: 1e-9) }
        }
    }

    // MARK: Noise level and the chain

    func testNoiseLevelOfGaussianNoiseIsItsStandardDeviation() {
        let (channels, samples) = (3, 100_000)
        var recording = gaussian(count: channels * samples, seed: 12)
        for channel in 0..<channels {
            for t in 0..<samples { recording[channel * samples + t] *= Double(channel + 1) }
        }
        let noise = NoiseLevel.perChannel(recording, channels: channels, samples: samples)
        for channel in 0..<channels { XCTAssertEqual(noise[channel], Double(channel + 1), accuracy: 0.02 * Double(channel + 1)) }
        // The MAD estimate comes from SparseCoding's helper, on all samples when there are ≤ 200,000.
        XCTAssertEqual(noise[1], DictionaryLearning.noiseLevel(Array(recording[samples..<(2 * samples)])))
    }

    func testSampleChunksAreEvenlySpacedAndCoverBothEnds() {
        XCTAssertEqual(SampleChunks.evenlySpaced(samples: 150_000), [0..<150_000])
        let chunks = SampleChunks.evenlySpaced(samples: 1_000_000)
        XCTAssertEqual(chunks.count, 20)
        XCTAssertEqual(chunks.first, 0..<10_000)
        XCTAssertEqual(chunks.last, 990_000..<1_000_000)
        XCTAssertTrue(zip(chunks, chunks.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound })
    }

    func testChainAppliesFilterThenReferenceThenWhitening() throws {
        let (channels, samples, rate) = (4, 30_000, 30000.0)
        let recording = correlatedGaussian(channels: channels, samples: samples, seed: 30)
        let result = try Preprocessing().run(recording, channels: channels, samples: samples, samplingRate: rate)

        let filter = try ButterworthBandpass(order: Preprocessing.defaultFilterOrder,
                                             lowEdgeOrder: Preprocessing.defaultLowEdgeOrder,
                                             low: Preprocessing.defaultLow, high: Preprocessing.defaultHigh,
                                             samplingRate: rate)
        var expected = filter.filtered(recording, channels: channels, samples: samples)
        CommonMedianReference.apply(&expected, channels: channels, samples: samples)
        let whitening = try SpatialWhitening(fitting: expected, channels: channels, samples: samples)
        try whitening.apply(to: &expected, channels: channels, samples: samples)
        XCTAssertEqual(result.recording, expected)
        XCTAssertEqual(result.whitening, whitening)
        XCTAssertEqual(result.filter, filter)
        XCTAssertEqual(result.noiseLevels, NoiseLevel.perChannel(expected, channels: channels, samples: samples))
        // Filtered, whitened Gaussian noise is still Gaussian with unit variance, so its MAD σ is ≈ 1. (Not after
        // a 4-channel median reference: that output is no longer Gaussian, and its MAD σ is below its std.)
        let unreferenced = try Preprocessing(commonMedianReference: false)
            .run(recording, channels: channels, samples: samples, samplingRate: rate)
        for sigma in unreferenced.noiseLevels { XCTAssertEqual(sigma, 1, accuracy: 0.05) }

        let plain = try Preprocessing(commonMedianReference: false, whitening: false)
            .run(recording, channels: channels, samples: samples, samplingRate: rate)
        XCTAssertEqual(plain.recording, filter.filtered(recording, channels: channels, samples: samples))
        XCTAssertNil(plain.whitening)
        // Without the band-pass: reference and whitening on the recording as given.
        let unfiltered = try Preprocessing(bandPass: false)
            .run(recording, channels: channels, samples: samples, samplingRate: rate)
        var referenced = recording
        CommonMedianReference.apply(&referenced, channels: channels, samples: samples)
        let unfilteredWhitening = try SpatialWhitening(fitting: referenced, channels: channels, samples: samples)
        try unfilteredWhitening.apply(to: &referenced, channels: channels, samples: samples)
        XCTAssertEqual(unfiltered.recording, referenced)
        XCTAssertNil(unfiltered.filter)
        XCTAssertThrowsError(try Preprocessing().run([1, 2, 3], channels: 2, samples: 2, samplingRate: rate)) { error in
            guard case .invalidRecording? = error as? SpikeSortingError else { return XCTFail("\(error)") }
        }
    }

    // MARK: Helpers

    private func gaussian(count: Int, seed: UInt64) -> [Double] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in generator.normal() }
    }

    /// Channels mixed by a fixed lower-triangular matrix with strong off-diagonal terms, so they are correlated.
    private func correlatedGaussian(channels: Int, samples: Int, seed: UInt64) -> [Double] {
        let sources = gaussian(count: channels * samples, seed: seed)
        var mixed = [Double](repeating: 0, count: channels * samples)
        for i in 0..<channels {
            for k in 0...i {
                let weight = i == k ? 1.0 + Double(i) : 0.8 / Double(1 + i - k)
                for t in 0..<samples { mixed[i * samples + t] += weight * 3 * sources[k * samples + t] }
            }
        }
        return mixed
    }

    private func secondMoment(_ data: [Double], channels: Int, samples: Int) -> Matrix {
        var result = Matrix(rows: channels, columns: channels)
        for i in 0..<channels {
            for j in 0...i {
                var sum = 0.0
                for t in 0..<samples { sum += data[i * samples + t] * data[j * samples + t] }
                result[i, j] = sum / Double(samples)
                result[j, i] = result[i, j]
            }
        }
        return result
    }

    private func sortedMedian(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Least-squares fit of a·sin(ωt) + b·cos(ωt) to a stretch of signal; returns amplitude and phase of
    /// A·sin(ωt + φ).
    private func sineFit(_ values: ArraySlice<Double>, start: Int, frequency: Double,
                         rate: Double) -> (amplitude: Double, phase: Double) {
        var (ss, sc, cc, ys, yc) = (0.0, 0.0, 0.0, 0.0, 0.0)
        for (offset, value) in values.enumerated() {
            let angle = 2 * Double.pi * frequency * Double(start + offset) / rate
            let (s, c) = (sin(angle), cos(angle))
            ss += s * s; sc += s * c; cc += c * c; ys += value * s; yc += value * c
        }
        let determinant = ss * cc - sc * sc
        let a = (ys * cc - yc * sc) / determinant
        let b = (yc * ss - ys * sc) / determinant
        return ((a * a + b * b).squareRoot(), atan2(b, a))
    }
}
