import Foundation
import XCTest
import NFXCore
import Simulation
@testable import Deconvolution

final class DeconvolutionTests: XCTestCase {
    func testRecoversNoiseAndTimeConstantOnSimulatedData() throws {
        // The reference case: g = exp(−1/(0.68 s · 30 Hz)) ≈ 0.952, σ = 0.3, 0.5 Hz firing.
        let simulation = try CalciumSimulation(neurons: 8, frames: 20000, frameRate: 30, firingRate: 0.5, arOrder: 1,
                                               noise: 0.3, seed: 4).generate()
        for neuron in 0..<8 {
            let trace = Array(simulation.fluorescence.row(neuron))
            let sigma = ParameterEstimation.noiseLevel(trace)
            XCTAssertEqual(sigma, 0.3, accuracy: 0.05 * 0.3, "neuron \(neuron)")
            let g = ParameterEstimation.ar1Coefficient(trace, sigma: sigma)
            XCTAssertEqual(g, simulation.g[neuron, 0], accuracy: 0.02, "neuron \(neuron)")
        }
    }

    func testKnownParametersRecoverTheSimulatedSpikes() throws {
        // g ≈ 0.95, 30 Hz, 0.5 Hz, σ 0.3 with g, σ and the baseline given: the noise-constrained L1 solution.
        // (With every parameter estimated, see ThresholdedRefinementTests.)
        let simulation = try CalciumSimulation(neurons: 4, frames: 6000, frameRate: 30, firingRate: 0.5, arOrder: 1,
                                               noise: 0.3, seed: 1).generate()
        for neuron in 0..<4 {
            let trace = Array(simulation.fluorescence.row(neuron))
            let options = DeconvolutionOptions(g: [simulation.g[neuron, 0]], sigma: 0.3, baseline: 0)
            let result = Deconvolution.deconvolve(trace, options: options)
            XCTAssertNil(result.warning)
            XCTAssertGreaterThan(result.lambda, 0)
            let correlation = pearson(result.spikes, Array(simulation.spikes.row(neuron)))
            XCTAssertGreaterThan(correlation, 0.85, "neuron \(neuron)")
        }
    }

    func testJointBaselineIsWithinHalfTheNoiseOfTheTruth() throws {
        let simulation = try CalciumSimulation(neurons: 4, frames: 6000, frameRate: 30, firingRate: 0.5, arOrder: 1,
                                               noise: 0.3, baseline: 2, seed: 1).generate()
        for neuron in 0..<4 {
            let result = Deconvolution.deconvolve(Array(simulation.fluorescence.row(neuron)))
            // The joint L1 estimate (as OASIS') sits a little above the truth: the shrunken calcium leaves part of
            // each transient in the residual.
            XCTAssertEqual(result.baseline, 2, accuracy: 0.5 * 0.3, "neuron \(neuron)")
        }
    }

    func testConstantAndAllNaNTracesGiveZerosAndAWarning() {
        let constant = Deconvolution.deconvolve(Array(repeating: 3, count: 50))
        XCTAssertEqual(constant.spikes, Array(repeating: 0, count: 50))
        XCTAssertNotNil(constant.warning)
        let zero = Deconvolution.deconvolve(Array(repeating: 0, count: 50))
        XCTAssertNotNil(zero.warning)
        let missing = Deconvolution.deconvolve(Array(repeating: .nan, count: 10))
        XCTAssertTrue(missing.spikes.allSatisfy(\.isNaN))
        XCTAssertEqual(missing.warning, "every frame is NaN")
    }

    func testSameResultForAnyThreadCount() throws {
        let simulation = try CalciumSimulation(neurons: 6, frames: 2000, seed: 2).generate()
        let values = simulation.fluorescence.elements
        let one = Deconvolution.deconvolve(rows: 6, frames: 2000, values: values, options: DeconvolutionOptions(),
                                           threads: 1)
        let two = Deconvolution.deconvolve(rows: 6, frames: 2000, values: values, options: DeconvolutionOptions(),
                                           threads: 2)
        for neuron in 0..<6 {
            XCTAssertEqual(one[neuron].spikes, two[neuron].spikes)
            XCTAssertEqual(one[neuron].lambda, two[neuron].lambda)
        }
    }

    /// One trace longer than a chunk of the solve on two threads (its solves split between them) and on one.
    func testOneLongTraceGivesTheSameResultOnTwoThreads() throws {
        let frames = OASIS.chunkFrames * 2 + 777
        let simulation = try CalciumSimulation(neurons: 1, frames: frames, seed: 5).generate()
        let values = simulation.fluorescence.elements
        let one = Deconvolution.deconvolve(rows: 1, frames: frames, values: values, options: DeconvolutionOptions(),
                                           threads: 1)
        let two = Deconvolution.deconvolve(rows: 1, frames: frames, values: values, options: DeconvolutionOptions(),
                                           threads: 2)
        XCTAssertEqual(one[0].spikes, two[0].spikes)
        XCTAssertEqual(one[0].lambda, two[0].lambda)
        XCTAssertEqual(one[0].baseline, two[0].baseline)
    }

    private func pearson(_ a: [Double], _ b: [Double]) -> Double { SpikeScores.pearson(a, b) }
}
