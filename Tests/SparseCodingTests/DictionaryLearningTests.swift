import Foundation
import NFXCore
import Simulation
import XCTest
@testable import SparseCoding

/// `nfx simulate ephys` data as in the issue: 1 channel, 10 kHz, 30 Hz units, peak SNR 10.
func simulatedEphys(seconds: Double = 10, units: Int = 3, channels: Int = 1, seed: UInt64 = 0) throws -> SimulatedEphys {
    try EphysSimulation(channels: channels, units: units, duration: seconds, samplingRate: 10_000, firingRate: 30,
                        noise: 1, waveformDuration: 0.003, amplitude: 10, seed: seed).generate()
}

final class DictionaryLearningTests: XCTestCase {
    func testAlternatingMinimizationLearnsThePlantedWaveforms() throws {
        let recording = try simulatedEphys()
        let samples = recording.data.columns
        let result = try DictionaryLearning.learn(recording: recording.data.elements, channels: 1, samples: samples,
                                                  options: DictionaryLearningOptions(filters: 3, length: 45, method: .altmin))
        let waveforms = recording.waveforms
        let match = FilterMatching.match(result.dictionary, waveforms: waveforms.elements, units: 3,
                                         waveformLength: waveforms.shape[2])
        XCTAssertGreaterThanOrEqual(match.worst, 0.99, "\(match.scores), \(result.iterations) iterations")
        for norm in result.dictionary.norms { XCTAssertEqual(norm, 1, accuracy: 1e-12) }
        for (before, after) in zip(result.objective, result.objective.dropFirst()) {
            XCTAssertLessThanOrEqual(after, before * (1 + 1e-3))
        }
    }
}

final class DictionaryUpdateTests: XCTestCase {
    func testFilterUpdateKeepsEveryFilterInTheUnitBallAndLowersTheObjective() {
        let dictionary = randomDictionary(filters: 3, channels: 2, length: 12, seed: 2)
        var generator = SeededGenerator(seed: 5)
        var codes = [Double](repeating: 0, count: 3 * 389)
        for _ in 0..<40 { codes[generator.int(below: codes.count)] = generator.uniform(in: 1..<4) }
        let truth = randomDictionary(filters: 3, channels: 2, length: 12, seed: 7)
        let y = Convolution.synthesize(truth, codes: codes, samples: 400).map { $0 + 0.1 * generator.normal() }
        let statistics = WindowStatistics(codes: SparseCodes(dense: codes, filters: 3, positions: 389), window: y,
                                          samples: 400, channels: 2, filters: 3, length: 12, objective: 0)
        let updated = AlternatingMinimization.updateFilters(dictionary, A: statistics.A, b: statistics.b)
        for norm in updated.norms { XCTAssertLessThanOrEqual(norm, 1 + 1e-12) }
        let loss = { (d: ConvolutionalDictionary) -> Double in
            zip(Convolution.synthesize(d, codes: codes, samples: 400), y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        }
        XCTAssertLessThan(loss(updated), loss(dictionary))
        // From the codes that made the data, the update recovers the generating filters.
        let match = FilterMatching.match(updated, waveforms: truth.weights, units: 3, waveformLength: 12)
        XCTAssertGreaterThan(match.worst, 0.99)
    }

    func testSameSeedGivesTheSameFilters() throws {
        let recording = try simulatedEphys(seconds: 3, seed: 4)
        let run = { try DictionaryLearning.learn(recording: recording.data.elements, channels: 1,
                                                 samples: recording.data.columns,
                                                 options: DictionaryLearningOptions(filters: 2, length: 30, maxIterations: 3,
                                                                                    seed: 9, threads: 2)) }
        XCTAssertEqual(try run().dictionary, try run().dictionary)
    }
}
