import Foundation
import HDF5Kit
import NFXCore
import XCTest

final class TCACommandTests: CommandTestCase {
    func simulate(_ name: String, rank: Int = 3) throws {
        let result = try NFXExecutable.run(["simulate", "tensor", "-o", path(name), "--units", "30", "--time", "40",
                                            "--trials", "20", "--rank", "\(rank)", "--noise", "0.05", "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    func json(_ result: CommandResult) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    func testWritesTheContractsDatasetsAndRecoversThePlantedFactors() throws {
        try simulate("t.h5")
        let result = try NFXExecutable.run(["tca", path("t.h5"), "--rank", "3", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try json(result)["rank"] as? Int, 3)
        let file = try HDF5File.open(path("t.tca.h5"))
        XCTAssertEqual(try file.dataset("/factors/mode0").shape, [30, 3])
        XCTAssertEqual(try file.dataset("/factors/mode1").shape, [40, 3])
        XCTAssertEqual(try file.dataset("/factors/mode2").shape, [20, 3])
        let weights = try file.dataset("/weights").read(as: Double.self).elements
        XCTAssertEqual(weights, weights.sorted(by: >))
        XCTAssertNotNil(try file.root.attribute("relative_error")?.doubleValue)
        XCTAssertEqual(try file.root.attribute("method")?.stringValue, "ncp")
        let compare = try NFXExecutable.run(["compare", path("t.tca.h5"), path("t.h5"), "--json"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertGreaterThan(try XCTUnwrap(try json(compare)["similarity"] as? Double), 0.95)
    }

    func testEnsembleTableAndSeparateRunsSummarizedTogether() throws {
        try simulate("t.h5")
        let first = try NFXExecutable.run(["tca", path("t.h5"), "--ranks", "1-3", "--replicates", "3", "-o", path("a.h5")])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("similarity"), first.stdout)
        XCTAssertTrue(first.stdout.contains("← written"), first.stdout)
        let file = try HDF5File.open(path("a.h5"))
        XCTAssertEqual(try file.dataset("/ensemble/summary").shape, [9, 4])
        XCTAssertEqual(try file.dataset("/ensemble/rank_2/replicate_1/factors/mode0").shape, [30, 2])
        XCTAssertEqual(try file.root.attribute("rank")?.doubleValue, 3)
        XCTAssertEqual(try NFXExecutable.run(["tca", path("t.h5"), "--ranks", "4-4", "--replicates", "2", "-o",
                                              path("b.h5"), "--quiet"]).status, 0)
        let combined = try NFXExecutable.run(["tca", "--summarize", path("a.h5"), path("b.h5"), "-o", path("all.h5"),
                                              "--json"])
        XCTAssertEqual(combined.status, 0, combined.stderr)
        let ensemble = try XCTUnwrap(try json(combined)["ensemble"] as? [[String: Any]])
        XCTAssertEqual(ensemble.compactMap { $0["rank"] as? Int }, [1, 2, 3, 4])
        XCTAssertEqual(try HDF5File.open(path("all.h5")).dataset("/ensemble/summary").shape, [11, 4])
    }

    func testCPMethodAndNaNEntriesAndSameSeedSameFile() throws {
        var generator = SeededGenerator(seed: 1)
        let values = (0..<(10 * 8 * 6)).map { _ in generator.uniform(in: 0..<1) < 0.1 ? Double.nan : generator.normal() }
        try NPY.encode(NDArray(shape: [10, 8, 6], elements: values)).write(to: URL(fileURLWithPath: path("x.npy")))
        let refused = try NFXExecutable.run(["tca", path("x.npy"), "--rank", "2"])
        assertError(refused, code: 65, command: "nfx tca", mentions: "entries are negative")
        XCTAssertTrue(refused.stderr.contains("--method cp"), refused.stderr)
        for output in ["a.h5", "b.h5"] {
            let result = try NFXExecutable.run(["tca", path("x.npy"), "--rank", "2", "--method", "cp", "--init", "random",
                                                "--seed", "4", "-o", path(output), "--quiet"])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let a = try HDF5File.open(path("a.h5")).dataset("/factors/mode0").read(as: Double.self)
        let b = try HDF5File.open(path("b.h5")).dataset("/factors/mode0").read(as: Double.self)
        XCTAssertEqual(a.elements, b.elements)
        XCTAssertTrue(a.elements.allSatisfy(\.isFinite))
    }

    func testBadArgumentsAreUsageErrors() throws {
        try simulate("t.h5")
        assertError(try NFXExecutable.run(["tca", path("t.h5"), "--rank", "0"]), code: 64, command: "nfx tca",
                    mentions: "--rank")
        assertError(try NFXExecutable.run(["tca", path("t.h5")]), code: 64, command: "nfx tca", mentions: "--rank")
        assertError(try NFXExecutable.run(["tca", path("t.h5"), "--rank", "2", "--method", "pca"]), code: 64,
                    command: "nfx tca", mentions: "--method")
        assertError(try NFXExecutable.run(["tca", "--summarize", path("t.h5"), "-o", path("s.h5")]), code: 66,
                    command: "nfx tca", mentions: "no /ensemble")
        XCTAssertEqual(try contents(), ["t.h5"])
    }

    func testMatrixInputIsRefusedWithItsShape() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5"), "--quiet"]).status, 0)
        assertError(try NFXExecutable.run(["tca", path("m.h5"), "--rank", "2"]), code: 65, command: "nfx tca",
                    mentions: "m.h5")
    }
}
