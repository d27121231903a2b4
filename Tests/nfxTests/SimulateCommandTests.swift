import Foundation
import XCTest
import HDF5Kit
import NFXCore

final class SimulateCommandTests: CommandTestCase {
    private func datasets(_ file: String) throws -> [String: NDArray<Double>] {
        let hdf5 = try HDF5File.open(file)
        var result: [String: NDArray<Double>] = [:]
        for entry in try hdf5.walk() where entry.kind == .dataset {
            result[entry.path] = try hdf5.dataset(entry.path).read(as: Double.self)
        }
        return result
    }

    func testEveryKindWritesTheContractsDatasets() throws {
        let expected: [String: [String]] = [
            "matrix": ["/data", "/truth/H", "/truth/W"],
            "tensor": ["/data", "/truth/factors/mode0", "/truth/factors/mode1", "/truth/factors/mode2"],
            "calcium": ["/data", "/truth/baseline", "/truth/calcium", "/truth/g", "/truth/sigma", "/truth/spikes"],
            "ephys": ["/data", "/truth/spike_labels", "/truth/spike_times", "/truth/waveforms"],
            "rnn": ["/rnn/A", "/rnn/M", "/rnn/N", "/rnn/b", "/rnn/c"],
        ]
        for (kind, names) in expected {
            let output = path("\(kind).h5")
            let result = try NFXExecutable.run(["simulate", kind, "-o", output])
            XCTAssertEqual(result.status, 0, "\(kind): \(result.stderr)")
            XCTAssertTrue(result.stdout.contains(output), result.stdout)
            XCTAssertEqual(try datasets(output).keys.sorted(), names, kind)
            let root = try HDF5File.open(output).root
            XCTAssertEqual(try root.attribute("nfx_command"), .string("simulate"))
            XCTAssertEqual(try root.attribute("kind"), .string(kind))
            XCTAssertEqual(try root.attribute("seed"), .integer(0))
            XCTAssertNotNil(try root.attribute("nfx_argv"))
        }
        XCTAssertEqual(try contents(), expected.keys.map { "\($0).h5" }.sorted(), "no temporary files left")
    }

    func testShapesFollowTheOptions() throws {
        try NFXExecutable.run(["simulate", "tensor", "-o", path("t.h5"), "--units", "7", "--time", "11",
                               "--trials", "5", "--rank", "2"])
        let tensor = try datasets(path("t.h5"))
        XCTAssertEqual(tensor["/data"]?.shape, [7, 11, 5])
        XCTAssertEqual(tensor["/truth/factors/mode0"]?.shape, [7, 2])
        XCTAssertEqual(tensor["/truth/factors/mode1"]?.shape, [11, 2])
        XCTAssertEqual(tensor["/truth/factors/mode2"]?.shape, [5, 2])

        try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--channels", "2", "--units", "2",
                               "--duration", "1", "--sampling-rate", "20000"])
        let ephys = try HDF5File.open(path("e.h5"))
        XCTAssertEqual(try ephys.dataset("/data").shape, [2, 20000])
        XCTAssertEqual(try ephys.dataset("/truth/spike_times").elementType, .signedInteger(bits: 64))
        XCTAssertEqual(try ephys.dataset("/truth/spike_labels").elementType, .signedInteger(bits: 32))
        XCTAssertEqual(try ephys.root.attribute("sampling_rate")?.doubleValue, 20000)

        try NFXExecutable.run(["simulate", "calcium", "-o", path("c.h5"), "--ar-order", "2", "--tau", "0.5,0.05",
                               "--neurons", "3", "--frames", "100"])
        let calcium = try datasets(path("c.h5"))
        XCTAssertEqual(calcium["/truth/g"]?.shape, [3, 2])
        XCTAssertEqual(try HDF5File.open(path("c.h5")).root.attribute("frame_rate")?.doubleValue, 30)

        try NFXExecutable.run(["simulate", "rnn", "-o", path("r.h5"), "--activation", "clipped-relu"])
        let rnn = try HDF5File.open(path("r.h5"))
        XCTAssertTrue(rnn.contains("/rnn/clip"))
        XCTAssertEqual(try rnn.group("/rnn").attribute("activation"), .string("clipped-relu"))
    }

    func testSameSeedGivesIdenticalDataAndAnotherSeedDoesNot() throws {
        for kind in ["matrix", "tensor", "calcium", "ephys", "rnn"] {
            try NFXExecutable.run(["simulate", kind, "-o", path("\(kind)-a.h5"), "--seed", "7"])
            try NFXExecutable.run(["simulate", kind, "-o", path("\(kind)-b.h5"), "--seed", "7"])
            try NFXExecutable.run(["simulate", kind, "-o", path("\(kind)-c.h5"), "--seed", "8"])
            let a = try datasets(path("\(kind)-a.h5")), b = try datasets(path("\(kind)-b.h5"))
            let c = try datasets(path("\(kind)-c.h5"))
            XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
            for (name, array) in a {
                // Bit-identical: compare the bit patterns, so NaN or -0 could not hide a difference.
                XCTAssertEqual(array.elements.map(\.bitPattern), b[name]?.elements.map(\.bitPattern), "\(kind) \(name)")
            }
            XCTAssertNotEqual(a.values.map(\.elements).flatMap { $0 }.reduce(0, +),
                              c.values.map(\.elements).flatMap { $0 }.reduce(0, +), kind)
        }
    }

    func testJSONSummaryIsOneParsableLine() throws {
        let result = try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5"), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(object["command"] as? String, "simulate matrix")
        XCTAssertEqual(object["output"] as? String, path("m.h5"))
        XCTAssertEqual(object["shape"] as? [Int], [100, 500])
    }

    func testDefaultOutputIsNamedForTheKindInTheWorkingFolder() throws {
        let result = try NFXExecutable.run(["simulate", "rnn", "--quiet"], in: folder)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(try contents(), ["rnn.h5"])
    }
}
