import Foundation
import HDF5Kit
import NFXCore
import XCTest

final class FactorizeCommandTests: CommandTestCase {
    func simulate(_ name: String, rank: Int = 4, noise: Double = 0.05) throws {
        let result = try NFXExecutable.run(["simulate", "matrix", "-o", path(name), "--units", "60", "--time", "300",
                                            "--rank", "\(rank)", "--noise", "\(noise)", "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    func json(_ result: CommandResult) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    func testNMFWritesTheContractsDatasetsAndRecoversThePlantedFactors() throws {
        try simulate("m.h5")
        let result = try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "4", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let summary = try json(result)
        XCTAssertEqual(summary["rank"] as? Int, 4)
        XCTAssertEqual(summary["converged"] as? Bool, true)
        let file = try HDF5File.open(path("m.factorize.h5"))
        XCTAssertEqual(try file.dataset("/W").shape, [60, 4])
        XCTAssertEqual(try file.dataset("/H").shape, [4, 300])
        let iterations = try XCTUnwrap(summary["iterations"] as? Int)
        XCTAssertEqual(try file.dataset("/objective").shape, [iterations])
        XCTAssertEqual(try file.root.attribute("method")?.stringValue, "nmf")
        XCTAssertEqual(try file.root.attribute("rank")?.doubleValue, 4)
        XCTAssertEqual(try file.root.attribute("max_iter")?.doubleValue, 200)
        XCTAssertNotNil(try file.root.attribute("relative_error")?.doubleValue)

        let compare = try NFXExecutable.run(["compare", path("m.factorize.h5"), path("m.h5"), "--json"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertGreaterThan(try XCTUnwrap(try json(compare)["similarity"] as? Double), 0.97)
    }

    func testRankSweepPrintsATableWritesTheSweepAndChoosesThePlantedRank() throws {
        try simulate("m.h5", rank: 3, noise: 0.2)
        let result = try NFXExecutable.run(["factorize", path("m.h5"), "--ranks", "1-6", "--replicates", "2",
                                            "-o", path("s.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("test error"), result.stdout)
        XCTAssertTrue(result.stdout.contains("← written"), result.stdout)
        let file = try HDF5File.open(path("s.h5"))
        XCTAssertEqual(try file.root.attribute("rank")?.doubleValue, 3, result.stdout)
        XCTAssertEqual(try file.dataset("/sweep/summary").shape, [12, 5])
        XCTAssertEqual(try file.dataset("/sweep/rank_5/replicate_1/W").shape, [60, 5])
        XCTAssertEqual(try file.dataset("/W").shape, [60, 3])
    }

    func testPCAWritesExplainedVariance() throws {
        try simulate("m.h5")
        let result = try NFXExecutable.run(["factorize", path("m.h5"), "--method", "pca", "--rank", "3", "--json",
                                            "-o", path("p.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try HDF5File.open(path("p.h5"))
        let ratio = try file.dataset("/explained_variance_ratio").read(as: Double.self).elements
        XCTAssertEqual(ratio.count, 3)
        XCTAssertTrue(zip(ratio, ratio.dropFirst()).allSatisfy { $0 >= $1 }, "\(ratio)")
        XCTAssertEqual(try file.dataset("/mean").shape, [60])
        XCTAssertEqual(try file.root.attribute("svd")?.stringValue, "exact")
    }

    func testNegativeDataIsRefusedWithCountAndMinimumUnlessShiftedOrClipped() throws {
        var values = (0..<(20 * 50)).map { Double($0 % 7) }
        values[3] = -2
        values[10] = -0.5
        try NPY.encode(NDArray(shape: [20, 50], elements: values)).write(to: URL(fileURLWithPath: path("neg.npy")))
        let refused = try NFXExecutable.run(["factorize", path("neg.npy"), "--rank", "2"])
        assertError(refused, code: 65, command: "nfx factorize", mentions: "2 entries are negative (minimum -2.0)")
        XCTAssertTrue(refused.stderr.contains("--shift-min"), refused.stderr)
        XCTAssertFalse(try contents().contains("neg.factorize.h5"))
        for flag in ["--shift-min", "--clip"] {
            let result = try NFXExecutable.run(["factorize", path("neg.npy"), "--rank", "2", flag, "--force", "--quiet"])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let shifted = try HDF5File.open(path("neg.factorize.h5"))
        XCTAssertEqual(try shifted.root.attribute("clip")?.doubleValue, 1)
        XCTAssertEqual(try NFXExecutable.run(["factorize", path("neg.npy"), "--rank", "2", "--method", "pca", "--force",
                                              "--quiet"]).status, 0)
    }

    func testNaNEntriesAreMaskedAndSameSeedGivesTheSameFile() throws {
        var generator = SeededGenerator(seed: 3)
        let values = (0..<(30 * 80)).map { _ in generator.uniform(in: 0..<1) < 0.1 ? Double.nan : generator.uniform(in: 0..<2) }
        try NPY.encode(NDArray(shape: [30, 80], elements: values)).write(to: URL(fileURLWithPath: path("nan.npy")))
        for output in ["a.h5", "b.h5"] {
            let result = try NFXExecutable.run(["factorize", path("nan.npy"), "--rank", "3", "--init", "random",
                                                "--seed", "5", "-o", path(output), "--quiet"])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let a = try HDF5File.open(path("a.h5")).dataset("/W").read(as: Double.self)
        let b = try HDF5File.open(path("b.h5")).dataset("/W").read(as: Double.self)
        XCTAssertEqual(a.elements, b.elements)
        XCTAssertTrue(a.elements.allSatisfy(\.isFinite))
    }

    func testWarmStartFromAnEarlierResult() throws {
        try simulate("m.h5")
        XCTAssertEqual(try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "4", "-o", path("first.h5"),
                                              "--quiet"]).status, 0)
        let result = try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "4", "--init", path("first.h5"),
                                            "-o", path("second.h5"), "--json", "--precision", "single"])
        XCTAssertEqual(result.status, 0, result.stderr)
        // Starting at a converged fit, the tolerance stops the refit almost at once.
        XCTAssertLessThanOrEqual(try XCTUnwrap(try json(result)["iterations"] as? Int), 3)
    }

    func testBadOptionsAreUsageErrors() throws {
        try simulate("m.h5")
        assertError(try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "0"]), code: 64,
                    command: "nfx factorize", mentions: "--rank")
        assertError(try NFXExecutable.run(["factorize", path("m.h5")]), code: 64, command: "nfx factorize",
                    mentions: "--rank")
        assertError(try NFXExecutable.run(["factorize", path("m.h5"), "--ranks", "5-2"]), code: 64,
                    command: "nfx factorize", mentions: "--ranks")
        assertError(try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "500"]), code: 64,
                    command: "nfx factorize", mentions: "min(rows, columns) = 60")
        assertError(try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "2", "--init", "nonsense"]), code: 64,
                    command: "nfx factorize", mentions: "--init")
        assertError(try NFXExecutable.run(["factorize", path("m.h5"), "--rank", "2", "--method", "ica"]), code: 64,
                    command: "nfx factorize", mentions: "--method")
        XCTAssertEqual(try contents(), ["m.h5"])
    }
}
