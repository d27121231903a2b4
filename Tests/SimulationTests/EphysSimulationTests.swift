import XCTest
import LinearAlgebra
import NFXCore
@testable import Simulation

final class EphysSimulationTests: XCTestCase {
    func testShapesAndSpikeBookkeeping() throws {
        let sim = EphysSimulation(channels: 6, units: 4, duration: 5)
        let result = try sim.generate()
        XCTAssertEqual([result.data.rows, result.data.columns], [6, 150_000])
        XCTAssertEqual(result.waveforms.shape, [4, 6, 60])
        XCTAssertEqual(result.samplingRate, 30000)
        XCTAssertEqual(result.spikeTimes.count, result.spikeLabels.count)
        XCTAssert(zip(result.spikeTimes, result.spikeTimes.dropFirst()).allSatisfy { $0 <= $1 }, "ascending")
        XCTAssert(result.spikeLabels.allSatisfy { (0..<4).contains($0) })
        let trough = Int64(result.troughIndex)
        XCTAssert(result.spikeTimes.allSatisfy { $0 - trough >= 0 && $0 - trough + 60 <= 150_000 })
        for unit in Int32(0)..<4 {
            let times = zip(result.spikeTimes, result.spikeLabels).filter { $0.1 == unit }.map { $0.0 }
            XCTAssert(zip(times, times.dropFirst()).allSatisfy { $1 - $0 >= Int64(sim.refractorySamples) },
                      "unit \(unit) violates its refractory period")
            // 5 Hz for 5 s: 25 spikes expected; a dead-time process is more regular than Poisson.
            XCTAssertEqual(Double(times.count), 25, accuracy: 5 * 25.0.squareRoot())
        }
    }

    func testWithoutNoiseDataIsTheSumOfPlacedWaveforms() throws {
        let result = try EphysSimulation(channels: 3, units: 2, duration: 1, firingRate: 40, noise: 0).generate()
        let (channels, width, samples) = (3, result.waveforms.shape[2], result.data.columns)
        var expected = [Double](repeating: 0, count: channels * samples)
        for (time, label) in zip(result.spikeTimes, result.spikeLabels) {
            for c in 0..<channels {
                for k in 0..<width {
                    expected[c * samples + Int(time) - result.troughIndex + k] += result.waveforms[Int(label), c, k]
                }
            }
        }
        XCTAssertGreaterThan(result.spikeTimes.count, 40)
        XCTAssertLessThan(maxAbsDifference(result.data.elements, expected), 1e-12)
    }

    func testWaveformsAreBiphasicDistinctAndPeakOnTheirHomeChannel() throws {
        let sim = EphysSimulation(channels: 4, units: 3)
        let result = try sim.generate()
        let w = result.waveforms, width = w.shape[2]
        var profiles: [[Double]] = []
        for unit in 0..<3 {
            let troughs = (0..<4).map { c in (0..<width).map { w[unit, c, $0] }.min()! }
            let home = troughs.indices.min { troughs[$0] < troughs[$1] }!
            let homeTrace = (0..<width).map { w[unit, home, $0] }
            XCTAssertEqual(homeTrace.indices.min { homeTrace[$0] < homeTrace[$1] }, result.troughIndex)
            let rebound = homeTrace[result.troughIndex...].max()!
            XCTAssertGreaterThan(rebound, 0.1 * -troughs[home], "positive rebound after the trough")
            XCTAssertLessThan(rebound, -troughs[home], "rebound smaller than the trough")
            XCTAssertLessThan(abs(homeTrace[0]) + abs(homeTrace[width - 1]), 1e-9, "tapered ends")
            let peakOverNoise = -troughs[home] / sim.noise
            XCTAssert((6...12).contains(peakOverNoise), "peak/noise \(peakOverNoise)")
            profiles.append(troughs.map { $0 / troughs[home] })
        }
        for a in 0..<3 {
            for b in (a + 1)..<3 {
                XCTAssertGreaterThan(maxAbsDifference(profiles[a], profiles[b]), 0.1, "units \(a), \(b) look alike")
            }
        }
    }

    func testUnitsHaveDistinctShapesAtAnyAlignment() throws {
        // The seed-like recipe: one channel at 10 kHz, where only the shape tells units apart.
        for seed in UInt64(0)..<4 {
            let result = try EphysSimulation(channels: 1, units: 5, duration: 1, samplingRate: 10_000,
                                             waveformDuration: 0.003, seed: seed).generate()
            let width = result.waveforms.shape[2]
            let shapes = (0..<5).map { unit in (0..<width).map { result.waveforms[unit, 0, $0] } }
            for a in 0..<5 {
                for b in (a + 1)..<5 {
                    let similarity = EphysSimulation.similarity(shapes[a], shapes[b], maximumShift: 3)
                    XCTAssertLessThanOrEqual(similarity, EphysSimulation.maximumShapeSimilarity + 1e-12,
                                             "seed \(seed): units \(a) and \(b)")
                }
            }
        }
        // The measure itself: 1 for a shifted copy, below 1 for a different shape.
        let bump = (0..<30).map { exp(-0.5 * pow(Double($0 - 12) / 2, 2)) }
        let shifted = (0..<30).map { exp(-0.5 * pow(Double($0 - 14) / 2, 2)) }
        XCTAssertEqual(EphysSimulation.similarity(bump, shifted, maximumShift: 3), 1, accuracy: 1e-3)
        XCTAssertLessThan(EphysSimulation.similarity(bump, bump.map { -$0 }, maximumShift: 3), 0)
    }

    func testNoiseStdOnASpikeFreeStretchMatchesSigma() throws {
        let result = try EphysSimulation(channels: 2, duration: 2, noise: 2.5).generate()
        let width = result.waveforms.shape[2]
        // The longest gap between consecutive spike windows on channel 0.
        var edges = [0] + result.spikeTimes.flatMap { [Int($0) - result.troughIndex, Int($0) - result.troughIndex + width] }
        edges.append(result.data.columns)
        var best = (start: 0, end: 0)
        for i in stride(from: 0, to: edges.count - 1, by: 2) where edges[i + 1] - edges[i] > best.end - best.start {
            best = (edges[i], edges[i + 1])
        }
        XCTAssertGreaterThan(best.end - best.start, 3000)
        let stretch = Array(result.data.row(0)[best.start..<best.end])
        XCTAssertEqual(populationStd(stretch), 2.5, accuracy: 0.25)
    }

    func testSameSeedGivesIdenticalBitsAndOtherSeedsDiffer() throws {
        let a = try EphysSimulation(duration: 1, seed: 3).generate()
        let b = try EphysSimulation(duration: 1, seed: 3).generate()
        let c = try EphysSimulation(duration: 1, seed: 4).generate()
        XCTAssertEqual(a.data, b.data)
        XCTAssertEqual(a.spikeTimes, b.spikeTimes)
        XCTAssertEqual(a.waveforms, b.waveforms)
        XCTAssertNotEqual(a.data, c.data)
        XCTAssertNotEqual(a.spikeTimes, c.spikeTimes)
    }

    func testInvalidParametersAreRejectedNamingTheFlag() {
        assertRejects("--channels") { _ = try EphysSimulation(channels: 0).generate() }
        assertRejects("--units") { _ = try EphysSimulation(units: 0).generate() }
        assertRejects("--duration") { _ = try EphysSimulation(duration: 0).generate() }
        assertRejects("--duration") { _ = try EphysSimulation(duration: 0.001).generate() }
        assertRejects("--sampling-rate") { _ = try EphysSimulation(samplingRate: -1).generate() }
        assertRejects("--firing-rate") { _ = try EphysSimulation(firingRate: -1).generate() }
        assertRejects("--firing-rate") { _ = try EphysSimulation(firingRate: 600).generate() }
        assertRejects("--noise") { _ = try EphysSimulation(noise: -1).generate() }
        assertRejects("--refractory-period") { _ = try EphysSimulation(refractoryPeriod: 0).generate() }
        assertRejects("--waveform-duration") { _ = try EphysSimulation(waveformDuration: 0.00001).generate() }
    }
}
