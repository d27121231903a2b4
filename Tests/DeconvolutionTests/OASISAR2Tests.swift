import Foundation
import XCTest
import NFXCore
import Simulation
@testable import Deconvolution

final class OASISAR2Tests: XCTestCase {
    private let (d, r) = (0.95, 0.6)
    private var g1: Double { d + r }
    private var g2: Double { -d * r }

    private func calcium(_ spikes: [Double]) -> [Double] {
        var c = spikes
        for t in 0..<c.count {
            if t >= 1 { c[t] += g1 * c[t - 1] }
            if t >= 2 { c[t] += g2 * c[t - 2] }
        }
        return c
    }

    private func solve(_ y: [Double], lambda: Double? = nil, sigma: Double = 0) -> (c: [Double], s: [Double], lambda: Double) {
        var c = [Double](repeating: 0, count: y.count), s = c
        let used = y.withUnsafeBufferPointer { yp in
            c.withUnsafeMutableBufferPointer { cp in
                s.withUnsafeMutableBufferPointer { sp -> Double in
                    if let lambda {
                        OASIS.ar2(yp, g1: g1, g2: g2, lambda: lambda, calcium: cp, spikes: sp)
                        return lambda
                    }
                    return OASIS.noiseConstrainedAR2(yp, g1: g1, g2: g2, sigma: sigma, calcium: cp, spikes: sp)
                }
            }
        }
        return (c, s, used)
    }

    func testNoiseFreeTraceGivesBackItsSpikes() {
        var generator = SeededGenerator(seed: 2)
        let spikes = (0..<600).map { t in t > 1 && generator.uniform() < 0.04 ? 1 + generator.uniform() : 0 }
        let (c, s, _) = solve(calcium(spikes), lambda: 0)
        for t in 0..<600 {
            XCTAssertEqual(c[t], calcium(spikes)[t], accuracy: 1e-9)
            XCTAssertEqual(s[t], spikes[t], accuracy: 1e-9)
        }
    }

    func testNoiseConstraintIsMetWithinOneInTenThousand() {
        var generator = SeededGenerator(seed: 5)
        let spikes = (0..<2000).map { _ in generator.uniform() < 0.03 ? 1.0 : 0 }
        let y = zip(calcium(spikes), (0..<2000).map { _ in 0.3 * generator.normal() }).map { $0 + $1 }
        let (c, _, lambda) = solve(y, sigma: 0.3)
        XCTAssertGreaterThan(lambda, 0)
        let rss = zip(y, c).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        XCTAssertEqual(rss / (0.09 * 2000), 1, accuracy: 1e-4)
    }

    func testNaNFramesAreBridgedNotZeroed() {
        var generator = SeededGenerator(seed: 7)
        let spikes = (0..<500).map { _ in generator.uniform() < 0.04 ? 1.0 : 0 }
        var y = zip(calcium(spikes), (0..<500).map { _ in 0.1 * generator.normal() }).map { $0 + $1 }
        for t in 200..<230 { y[t] = .nan }
        let (c, s, _) = solve(y, lambda: 0.1)
        for t in 0..<500 {
            XCTAssertEqual(c[t].isNaN, (200..<230).contains(t))
            XCTAssertEqual(s[t].isNaN, (200..<230).contains(t))
        }
        XCTAssertGreaterThan(s.filter { !$0.isNaN }.reduce(0, +), 5, "spikes are found around the gap")
    }

    func testRecoversAR2CoefficientsOnSimulatedData() throws {
        let simulation = try CalciumSimulation(neurons: 4, frames: 20000, frameRate: 30, firingRate: 0.5, arOrder: 2,
                                               noise: 0.3, seed: 6).generate()
        for neuron in 0..<4 {
            let trace = Array(simulation.fluorescence.row(neuron))
            let sigma = ParameterEstimation.noiseLevel(trace)
            let g = ParameterEstimation.ar2Coefficients(trace, sigma: sigma)
            XCTAssertEqual(g[0], simulation.g[neuron, 0], accuracy: 0.02, "g1, neuron \(neuron)")
            XCTAssertEqual(g[1], simulation.g[neuron, 1], accuracy: 0.02, "g2, neuron \(neuron)")
        }
    }
}
