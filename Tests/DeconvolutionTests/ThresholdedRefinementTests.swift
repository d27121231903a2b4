import Foundation
import XCTest
import NFXCore
import Simulation
@testable import Deconvolution

final class ThresholdedRefinementTests: XCTestCase {
    func testGoldenSectionFindsTheMinimumOfAParabola() {
        var evaluations = 0
        let minimum = ThresholdedRefinement.goldenSectionMinimum(in: 0.9...1.0, steps: 30) { x in
            evaluations += 1
            return (x - 0.9637) * (x - 0.9637)
        }
        XCTAssertEqual(minimum, 0.9637, accuracy: 1e-6)
        XCTAssertEqual(evaluations, 32, "two points to start, then one per step")
        // The documented resolution of the default: 10 steps leave 0.618¹⁰ of the interval.
        let coarse = ThresholdedRefinement.goldenSectionMinimum(in: 0.9...1.0, steps: 10) { abs($0 - 0.9637) }
        XCTAssertEqual(coarse, 0.9637, accuracy: 0.1 * pow(0.618, 10))
    }

    func testInformationCriterionIsTheResidualPlusSigmaSquaredLogFramesPerSpikeOnObservedFrames() {
        let trace = [1.0, 2.0, .nan, 0.5, 3.0]
        let calcium = [0.5, 1.5, 9.0, 0.0, 2.0]
        let spikes = [0.0, 1.0, 7.0, 0.0, 0.7]
        // Residuals on the 4 observed frames with baseline 0.25: 0.25, 0.25, 0.25, 0.75; spikes on observed frames: 2.
        let expected = 3 * 0.0625 + 0.5625 + 0.2 * 0.2 * log(4.0) * 2
        XCTAssertEqual(ThresholdedRefinement.informationCriterion(trace: trace, calcium: calcium, spikes: spikes,
                                                                  baseline: 0.25, sigma: 0.2),
                       expected, accuracy: 1e-14)
    }

    /// The reference case (g ≈ 0.952, 30 Hz, 0.5 Hz firing, σ 0.3), 3000 frames per neuron.
    private func referenceSimulation() throws -> SimulatedCalcium {
        try CalciumSimulation(neurons: 12, frames: 3000, frameRate: 30, firingRate: 0.5, arOrder: 1, noise: 0.3,
                              seed: 11).generate()
    }

    private func thresholded(_ trace: [Double], refined: Bool, g: [Double]? = nil,
                             baseline: Double? = nil) -> DeconvolvedTrace {
        Deconvolution.deconvolve(trace, options: DeconvolutionOptions(g: g, baseline: baseline, minimumSpike: 0.5,
                                                                      refinesThresholdedParameters: refined))
    }

    func testRefinementRecoversGAndTheSpikesBetterThanTheL1Estimates() throws {
        let simulation = try referenceSimulation()
        var estimateError = 0.0, refinedError = 0.0, estimateF1 = 0.0, refinedF1 = 0.0
        for neuron in 0..<12 {
            let trace = Array(simulation.fluorescence.row(neuron)), truth = Array(simulation.spikes.row(neuron))
            let trueG = simulation.g[neuron, 0]
            let plain = thresholded(trace, refined: false), refined = thresholded(trace, refined: true)
            estimateError += abs(plain.g[0] - trueG) / 12
            refinedError += abs(refined.g[0] - trueG) / 12
            estimateF1 += SpikeScores.score(inferred: plain.spikes, truth: truth, framesPerBin: 1.2, threshold: 0.5).f1 / 12
            refinedF1 += SpikeScores.score(inferred: refined.spikes, truth: truth, framesPerBin: 1.2, threshold: 0.5).f1 / 12
        }
        // Measured: the autocovariance g is 0.016 off on average, the refined one 0.0017; F1 0.950 → 0.965.
        XCTAssertGreaterThan(estimateError, 0.008, "the start must leave something to refine")
        XCTAssertLessThan(refinedError, 0.004)
        XCTAssertGreaterThanOrEqual(refinedF1, 0.96)
        XCTAssertGreaterThan(refinedF1, estimateF1 + 0.01)
    }

    func testRefinementNeverRaisesTheInformationCriterion() throws {
        let simulation = try CalciumSimulation(neurons: 8, frames: 2000, frameRate: 30, firingRate: 0.5, arOrder: 1,
                                               noise: 1.0, seed: 3).generate()
        for neuron in 0..<8 {
            let trace = Array(simulation.fluorescence.row(neuron))
            let plain = thresholded(trace, refined: false), refined = thresholded(trace, refined: true)
            func criterion(_ fit: DeconvolvedTrace) -> Double {
                ThresholdedRefinement.informationCriterion(trace: trace, calcium: fit.calcium, spikes: fit.spikes,
                                                           baseline: fit.baseline, sigma: fit.sigma)
            }
            XCTAssertLessThanOrEqual(criterion(refined), criterion(plain) * (1 + 1e-12), "neuron \(neuron)")
        }
    }

    func testThresholdedSpikesAreZeroOrAtLeastTheMinimumSize() throws {
        let simulation = try referenceSimulation()
        var trace = Array(simulation.fluorescence.row(0))
        for t in 1000..<1010 { trace[t] = .nan }
        let fit = thresholded(trace, refined: true)
        var spikeCount = 0
        for t in 1..<trace.count where !trace[t].isNaN {
            XCTAssert(fit.spikes[t] == 0 || fit.spikes[t] >= 0.5, "frame \(t): \(fit.spikes[t])")
            if fit.spikes[t] > 0 { spikeCount += 1 }
        }
        XCTAssertTrue((1000..<1010).allSatisfy { fit.spikes[$0].isNaN && fit.calcium[$0].isNaN })
        // 100 s at 0.5 Hz: about 50 spikes; rounding left inside pools would count thousands.
        XCTAssert((30...80).contains(spikeCount), "\(spikeCount) spikes")
    }

    func testGivenParametersAreKeptAndRefinementCanBeTurnedOff() throws {
        let simulation = try referenceSimulation()
        let trace = Array(simulation.fluorescence.row(1))
        XCTAssertEqual(thresholded(trace, refined: true, g: [0.93]).g, [0.93])
        XCTAssertEqual(thresholded(trace, refined: true, baseline: 0.1).baseline, 0.1)
        let both = thresholded(trace, refined: true, g: [0.93], baseline: 0.1)
        XCTAssertEqual(both.g, [0.93])
        XCTAssertEqual(both.baseline, 0.1)
        // Off: the thresholded fit keeps the L1 fit's g (the autocovariance estimate) and baseline.
        let sigma = ParameterEstimation.noiseLevel(trace)
        let estimate = ParameterEstimation.ar1Coefficient(trace, sigma: sigma)
        let plain = thresholded(trace, refined: false)
        XCTAssertEqual(plain.g, [estimate])
        XCTAssertEqual(plain.baseline, Deconvolution.deconvolve(trace).baseline)
        XCTAssertNotEqual(thresholded(trace, refined: true).g, [estimate])
    }
}
