import Foundation
import HDF5Kit
import XCTest

final class SpikesortCommandTests: CommandTestCase {
    func testSortsASimulatedProbeAndCompareScoresItLikeSpikeInterface() throws {
        let simulate = try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--channels", "4", "--units", "3",
                                              "--duration", "10", "--firing-rate", "10", "--seed", "2", "--quiet"])
        XCTAssertEqual(simulate.status, 0, simulate.stderr)
        let result = try NFXExecutable.run(["spikesort", path("e.h5"), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["units"] as? Int, 3, result.stdout)
        let file = try HDF5File.open(path("e.spikesort.h5"))
        let times = try file.dataset("/spike_times").read(as: Int64.self).elements
        XCTAssertEqual(times, times.sorted(), "spike times ascend")
        XCTAssertEqual(try file.dataset("/spike_labels").shape, [times.count])
        XCTAssertEqual(try file.dataset("/amplitudes").shape, [times.count])
        XCTAssertEqual(try file.dataset("/templates").shape[0...1], [3, 4])
        XCTAssertEqual(try file.root.attribute("nfx_command")?.stringValue, "spikesort")
        let compare = try NFXExecutable.run(["compare", path("e.spikesort.h5"), path("e.h5"), "--json"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let scores = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as? [String: Any])
        for accuracy in try XCTUnwrap(scores["accuracy"] as? [Double]) { XCTAssertGreaterThanOrEqual(accuracy, 0.95, compare.stdout) }
        // Sorting again with the written waveforms as the dictionary gives the same spikes.
        let again = try NFXExecutable.run(["spikesort", path("e.h5"), "--dictionary", path("e.spikesort.h5"),
                                           "-o", path("again.h5"), "--quiet"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let sortedAgain = try HDF5File.open(path("again.h5")).dataset("/spike_times").read(as: Int64.self).elements
        XCTAssertEqual(sortedAgain, times)
    }

    func testADatasetOfWaveformsIsADictionaryAndRefiningOrPiecesKeepTheUnits() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--channels", "1", "--units", "3",
                                              "--duration", "20", "--sampling-rate", "10000", "--firing-rate", "30",
                                              "--waveform-duration", "0.003", "--seed", "1", "--quiet"]).status, 0)
        for (name, extra) in [("truth.h5", ["--dictionary", path("e.h5") + ":/truth/waveforms"]),
                              ("refined.h5", ["--refine", "5"]),
                              ("pieces.h5", ["--training", "6", "--chunk", "4"])] {
            let result = try NFXExecutable.run(["spikesort", path("e.h5"), "--no-filter", "-o", path(name), "--quiet"] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            let compare = try NFXExecutable.run(["compare", path(name), path("e.h5"), "--json"])
            let scores = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(scores["sorted_units"] as? Int, 3, "\(name): \(compare.stdout)")
            for accuracy in try XCTUnwrap(scores["accuracy"] as? [Double]) {
                XCTAssertGreaterThanOrEqual(accuracy, 0.95, "\(name): \(compare.stdout)")
            }
        }
        XCTAssertEqual(try HDF5File.open(path("refined.h5")).root.attribute("refine")?.doubleValue, 5)
        let missing = try NFXExecutable.run(["spikesort", path("e.h5"), "--dictionary", path("e.h5") + ":/nope",
                                             "-o", path("x.h5"), "--quiet"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssert(missing.stderr.contains("/nope"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.h5")))
    }

    func testPhyFolderIsWrittenBesideTheResult() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--channels", "2", "--units", "2",
                                              "--duration", "2", "--firing-rate", "20", "--quiet"]).status, 0)
        let result = try NFXExecutable.run(["spikesort", path("e.h5"), "--filters", "2", "--phy", path("phy"), "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: path("phy"))
        for name in ["spike_times.npy", "spike_clusters.npy", "spike_templates.npy", "templates.npy", "amplitudes.npy",
                     "channel_map.npy", "channel_positions.npy", "params.py"] {
            XCTAssertTrue(files.contains(name), "\(name) missing from \(files)")
        }
        // An existing folder needs --force.
        assertError(try NFXExecutable.run(["spikesort", path("e.h5"), "--filters", "2", "--phy", path("phy"), "-o", path("b.h5")]),
                    code: 73, command: "nfx spikesort", mentions: "phy")
    }

    func testBadInputIsAClearErrorAndLeavesNoOutput() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--channels", "2", "--duration", "1",
                                              "--quiet"]).status, 0)
        XCTAssertEqual(try NFXExecutable.run(["simulate", "ephys", "-o", path("three.h5"), "--channels", "3",
                                              "--duration", "1", "--quiet"]).status, 0)
        assertError(try NFXExecutable.run(["spikesort", path("e.h5"), "--threshold", "0"]), code: 64,
                    command: "nfx spikesort", mentions: "--threshold")
        assertError(try NFXExecutable.run(["spikesort", path("e.h5"), "--band", "6000-300"]), code: 64,
                    command: "nfx spikesort", mentions: "--band")
        assertError(try NFXExecutable.run(["spikesort", path("e.h5"), "--filter-length", "100000"]), code: 65,
                    command: "nfx spikesort", mentions: "fewer than one waveform")
        // Waveforms learned on another probe.
        XCTAssertEqual(try NFXExecutable.run(["spikesort", path("three.h5"), "--filters", "1", "--quiet"]).status, 0)
        assertError(try NFXExecutable.run(["spikesort", path("e.h5"), "--dictionary", path("three.spikesort.h5")]),
                    code: 65, command: "nfx spikesort", mentions: "channels")
        XCTAssertEqual(try contents(), ["e.h5", "three.h5", "three.spikesort.h5"])
    }
}
