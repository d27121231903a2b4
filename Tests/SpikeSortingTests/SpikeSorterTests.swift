import NFXCore
import Simulation
import SparseCoding
import XCTest
@testable import SpikeSorting

/// A recording from `nfx simulate ephys`'s generator (noise σ 1, unit peaks ~10σ) and its ground truth.
func simulatedRecording(channels: Int, units: Int, duration: Double, samplingRate: Double = 30_000,
                        firingRate: Double = 10, waveformDuration: Double = 0.002,
                        seed: UInt64 = 0) throws -> SimulatedEphys {
    try EphysSimulation(channels: channels, units: units, duration: duration, samplingRate: samplingRate,
                        firingRate: firingRate, noise: 1, waveformDuration: waveformDuration, amplitude: 10,
                        seed: seed).generate()
}

/// SpikeInterface's scores of `sorted` against the simulation's truth.
func scores(_ sorted: SortedSpikes, _ truth: SimulatedEphys) throws -> GroundTruthComparison {
    try GroundTruthComparison(truthSamples: truth.spikeTimes, truthLabels: truth.spikeLabels,
                              sortedSamples: sorted.times, sortedLabels: sorted.labels,
                              samplingRate: truth.samplingRate)
}

func sort(_ truth: SimulatedEphys, filterLength: Int, units: Int? = nil, dictionary: ConvolutionalDictionary? = nil,
          threads: Int = 2) throws -> SpikeSortingResult {
    try SpikeSorter.sort(truth.data.elements, channels: truth.data.rows, samples: truth.data.columns,
                         dictionary: dictionary,
                         options: SpikeSortingOptions(samplingRate: truth.samplingRate, filterLength: filterLength,
                                                      units: units, threads: threads))
}

final class SpikeSorterTests: XCTestCase {
    func report(_ result: SpikeSortingResult, _ comparison: GroundTruthComparison) -> String {
        (result.discovery + [comparison.unitScores.map { String(format: "%.3f", $0.accuracy) }.joined(separator: " ")])
            .joined(separator: "\n")
    }

    func testSingleChannelUnitsAreCountedAndSortedAccurately() throws {
        let truth = try simulatedRecording(channels: 1, units: 3, duration: 20, seed: 0)
        let result = try sort(truth, filterLength: 60, units: 3)
        let comparison = try scores(result.spikes, truth)
        XCTAssertEqual(result.dictionary.filters, 3, report(result, comparison))
        for unit in comparison.unitScores { XCTAssertGreaterThanOrEqual(unit.accuracy, 0.95, report(result, comparison)) }
    }

    func testFourChannelsFiveUnitsAreCountedAndSortedAccurately() throws {
        let truth = try simulatedRecording(channels: 4, units: 5, duration: 20, seed: 1)
        let result = try sort(truth, filterLength: 60, units: 5)
        let comparison = try scores(result.spikes, truth)
        XCTAssertEqual(result.dictionary.filters, 5, report(result, comparison))
        for unit in comparison.unitScores { XCTAssertGreaterThanOrEqual(unit.accuracy, 0.95, report(result, comparison)) }
    }
}

extension SpikeSorterTests {
    func testOverlappingSpikesOfTwoUnitsBothFound() throws {
        // Two units' spikes planted 0.3 ms apart (9 samples at 30 kHz), once per 50 ms, on top of a 4-channel
        // recording (units with different home channels, as on a real probe).
        var truth = try simulatedRecording(channels: 4, units: 3, duration: 10, seed: 2)
        let first = try sort(truth, filterLength: 60, units: 3)
        // The sorted label of each true unit, from the recording before planting.
        let labels = try scores(first.spikes, truth).unitScores.map(\.matchedSortedUnit)
        let (W, K, L, N) = (truth.waveforms, 4, truth.waveforms.shape[2], truth.data.columns)
        var planted: [(Int64, Int32)] = []
        for time in stride(from: 1000, to: N - 1000, by: 1500) {
            for (unit, offset) in [(0, 0), (2, 9)] {
                let start = time + offset - truth.troughIndex
                for k in 0..<K {
                    for tap in 0..<L { truth.data.elements[k * N + start + tap] += W.elements[(unit * K + k) * L + tap] }
                }
                planted.append((Int64(time + offset), Int32(unit)))
            }
        }
        let result = try sort(truth, filterLength: 60, dictionary: first.dictionary)
        var found = 0
        for (time, unit) in planted {
            let sortedUnit = labels[Int(unit)]
            if zip(result.spikes.times, result.spikes.labels).contains(where: { abs($0.0 - time) <= 4 && $0.1 == sortedUnit }) {
                found += 1
            }
        }
        let near = zip(result.spikes.times, result.spikes.labels).filter { abs($0.0 - planted[0].0) < 30 }
        XCTAssertGreaterThanOrEqual(Double(found) / Double(planted.count), 0.95, "\(found) of \(planted.count) planted overlapping spikes found; near the first: \(near), planted \(planted.prefix(2)), labels \(labels)")
    }

    func testSameSeedSameSpikesAndThreadsDoNotMatter() throws {
        let truth = try simulatedRecording(channels: 2, units: 2, duration: 4, seed: 5)
        let one = try sort(truth, filterLength: 60, units: 2, threads: 1)
        let two = try sort(truth, filterLength: 60, units: 2, threads: 2)
        XCTAssertEqual(one.spikes, two.spikes)
        XCTAssertEqual(one.dictionary, two.dictionary)
    }

    func testAGivenDictionaryWithTheWrongChannelCountIsRefused() throws {
        let truth = try simulatedRecording(channels: 2, units: 2, duration: 1, seed: 5)
        let dictionary = ConvolutionalDictionary(filters: 1, channels: 3, length: 10, weights: [Double](repeating: 0.1, count: 30))
        XCTAssertThrowsError(try sort(truth, filterLength: 10, dictionary: dictionary)) { error in
            guard case SpikeSortingError.invalidRecording = error else { return XCTFail("\(error)") }
        }
    }
}

final class UnitDiscoveryTests: XCTestCase {
    func testTheNumberOfUnitsIsChosenFromTheData() throws {
        // Known limitation: on 4 channels × 5 units (seed 1) the growth splits one unit once too often.
        for (channels, units, seed) in [(1, 3, UInt64(0)), (4, 3, UInt64(2))] {
            let truth = try simulatedRecording(channels: channels, units: units, duration: 10, seed: seed)
            let result = try sort(truth, filterLength: 60)
            XCTAssertEqual(result.dictionary.filters, units, "\(channels) channels, seed \(seed):\n" + result.discovery.joined(separator: "\n"))
        }
    }
}
