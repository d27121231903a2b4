import Foundation
import HDF5Kit
import XCTest

final class CDLTrainCommandTests: CommandTestCase {
    func testLearnsFiltersThatMatchThePlantedWaveforms() throws {
        let simulate = try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--channels", "1", "--units", "3",
                                              "--duration", "10", "--sampling-rate", "10000", "--firing-rate", "30",
                                              "--noise", "1", "--amplitude", "10", "--waveform-duration", "0.003",
                                              "--quiet"])
        XCTAssertEqual(simulate.status, 0, simulate.stderr)
        let result = try NFXExecutable.run(["cdl-train", path("e.h5"), "--filters", "3", "--filter-length", "45", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try HDF5File.open(path("e.cdl-train.h5"))
        XCTAssertEqual(try file.dataset("/filters").shape, [3, 1, 45])
        XCTAssertEqual(try file.root.attribute("method")?.stringValue, "crsae", "CRsAE is the default")
        XCTAssertGreaterThan(try file.dataset("/objective").shape[0], 0)
        let compare = try NFXExecutable.run(["compare", path("e.cdl-train.h5"), path("e.h5"), "--json"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let scores = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(scores["worst"] as? Double), 0.99)
    }

    func testBadOptionsAreUsageErrors() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--quiet"]).status, 0)
        assertError(try NFXExecutable.run(["cdl-train", path("e.h5"), "--filters", "0"]), code: 64,
                    command: "nfx cdl-train", mentions: "--filters")
        assertError(try NFXExecutable.run(["cdl-train", path("e.h5"), "--method", "ksvd"]), code: 64,
                    command: "nfx cdl-train", mentions: "--method")
        assertError(try NFXExecutable.run(["cdl-train", path("e.h5"), "--filter-length", "400000"]), code: 65,
                    command: "nfx cdl-train", mentions: "fewer than the filter length")
        assertError(try NFXExecutable.run(["cdl-train", path("e.h5"), "--lambda", "1", "--lambda-fraction", "0.1"]),
                    code: 64, command: "nfx cdl-train", mentions: "--lambda-fraction")
        assertError(try NFXExecutable.run(["cdl-train", path("e.h5"), "--unrolled-steps", "0"]), code: 64,
                    command: "nfx cdl-train", mentions: "--unrolled-steps")
        XCTAssertEqual(try contents(), ["e.h5"])
    }
}
