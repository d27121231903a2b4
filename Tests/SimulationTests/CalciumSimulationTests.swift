import XCTest
import Foundation
import LinearAlgebra
@testable import Simulation

final class CalciumSimulationTests: XCTestCase {
    func testShapesAndTruthVectors() throws {
        let result = try CalciumSimulation(neurons: 5, frames: 200, arOrder: 2, baseline: 0.5).generate()
        for m in [result.fluorescence, result.spikes, result.calcium] {
            XCTAssertEqual([m.rows, m.columns], [5, 200])
        }
        XCTAssertEqual([result.g.rows, result.g.columns], [5, 2])
        XCTAssertEqual(result.baseline, Array(repeating: 0.5, count: 5))
        XCTAssertEqual(result.sigma, Array(repeating: 0.3, count: 5))
        XCTAssertEqual(result.frameRate, 30)
        XCTAssert(result.spikes.elements.allSatisfy { $0 >= 0 && $0 == $0.rounded() })
    }

    func testAROneFollowsTheRecursionExactlyWithoutNoise() throws {
        let sim = CalciumSimulation(neurons: 4, frames: 1000, firingRate: 2, arOrder: 1, noise: 0, baseline: 1.5)
        let result = try sim.generate()
        let g = exp(-1 / (0.68 * 30))
        XCTAssertEqual(result.g.elements, Array(repeating: g, count: 4))
        for n in 0..<4 {
            var c = 0.0
            for t in 0..<1000 {
                c = g * c + result.spikes[n, t]
                XCTAssertEqual(result.fluorescence[n, t] - 1.5, c, accuracy: 1e-10)
                XCTAssertEqual(result.calcium[n, t], c, accuracy: 1e-10)
            }
        }
    }

    func testARTwoFollowsTheOASISRecursionWithoutNoise() throws {
        let sim = CalciumSimulation(neurons: 3, frames: 1000, frameRate: 20, arOrder: 2, decayTime: 0.5,
                                    riseTime: 0.05, noise: 0)
        let result = try sim.generate()
        let d = exp(-1 / (0.5 * 20)), r = exp(-1 / (0.05 * 20))
        XCTAssertEqual(result.g.row(0).map { $0 }, [d + r, -d * r])
        for n in 0..<3 {
            var c1 = 0.0, c2 = 0.0
            for t in 0..<1000 {
                let c = (d + r) * c1 - d * r * c2 + result.spikes[n, t]
                XCTAssertEqual(result.fluorescence[n, t], c, accuracy: 1e-10)
                (c2, c1) = (c1, c)
            }
        }
    }

    func testSpikeRateMatchesTheFiringRate() throws {
        let sim = CalciumSimulation(neurons: 20, frames: 3000, frameRate: 30, firingRate: 2)
        let result = try sim.generate()
        let seconds = 3000.0 / 30 * 20
        let expected = 2 * seconds
        let observed = result.spikes.elements.reduce(0, +)
        XCTAssertEqual(observed, expected, accuracy: 5 * expected.squareRoot())
    }

    func testNoiseStdMatchesSigma() throws {
        let result = try CalciumSimulation(neurons: 10, frames: 3000, noise: 0.3).generate()
        let residuals = zip(result.fluorescence.elements, result.calcium.elements).map { $0 - $1 }
        XCTAssertEqual(populationStd(residuals), 0.3, accuracy: 0.03)
    }

    func testNeuronTraceDoesNotDependOnNeuronCountAndSeedsDiffer() throws {
        let few = try CalciumSimulation(neurons: 3, frames: 500, seed: 4).generate()
        let many = try CalciumSimulation(neurons: 12, frames: 500, seed: 4).generate()
        let again = try CalciumSimulation(neurons: 12, frames: 500, seed: 4).generate()
        let other = try CalciumSimulation(neurons: 12, frames: 500, seed: 5).generate()
        XCTAssertEqual(Array(many.fluorescence.elements[0..<1500]), few.fluorescence.elements)
        XCTAssertEqual(many.fluorescence, again.fluorescence)
        XCTAssertEqual(many.spikes, again.spikes)
        XCTAssertNotEqual(many.fluorescence, other.fluorescence)
        XCTAssertNotEqual(many.fluorescence.row(0), many.fluorescence.row(1))
    }

    func testInvalidParametersAreRejectedNamingTheFlag() {
        assertRejects("--neurons") { _ = try CalciumSimulation(neurons: 0).generate() }
        assertRejects("--frames") { _ = try CalciumSimulation(frames: 0).generate() }
        assertRejects("--frame-rate") { _ = try CalciumSimulation(frameRate: 0).generate() }
        assertRejects("--firing-rate") { _ = try CalciumSimulation(firingRate: -1).generate() }
        assertRejects("--ar-order") { _ = try CalciumSimulation(arOrder: 3).generate() }
        assertRejects("--tau") { _ = try CalciumSimulation(decayTime: 0).generate() }
        assertRejects("--tau") { _ = try CalciumSimulation(arOrder: 2, decayTime: 0.1, riseTime: 0.2).generate() }
        assertRejects("--noise") { _ = try CalciumSimulation(noise: -1).generate() }
        assertRejects("--baseline") { _ = try CalciumSimulation(baseline: .nan).generate() }
    }
}
