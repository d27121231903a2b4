import Foundation
import XCTest
import HDF5Kit
import NFXCore

final class FixedPointsCommandTests: CommandTestCase {
    /// Writes a rank-2 model in the contract's layout; `A` may be given as a scalar, vector or matrix.
    private func writeModel(_ name: String, A: NDArray<Double>, units n: Int = 6, activation: String = "relu",
                            badN: Bool = false) throws -> String {
        var generator = SeededGenerator(seed: 42)
        let file = try HDF5File.create(path(name))
        let group = try file.root.createGroup("/rnn")
        try group.setAttribute("activation", .string(activation))
        try group.write(A, to: "A")
        let M = (0..<n * 2).map { _ in generator.normal() }
        try group.write(NDArray(shape: [n, 2], elements: M), to: "M")
        let N = (0..<2 * n).map { _ in 3 * generator.normal() / Double(n) }
        try group.write(NDArray(shape: badN ? [n, 2] : [2, n], elements: N), to: "N")
        try group.write(NDArray(shape: [n], elements: (0..<n).map { _ in generator.normal() }), to: "b")
        try group.write(NDArray(shape: [2], elements: [0.05, -0.02]), to: "c")
        try file.close()
        return path(name)
    }

    private func latent(_ file: String) throws -> NDArray<Double> {
        try HDF5File.open(file).dataset("/latent").read(as: Double.self)
    }

    func testWritesTheContractsDatasetsAndAgreesWithBruteForce() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "rnn", "-o", path("rnn.h5"), "--units", "14", "--quiet"])
            .status, 0)
        let analytic = try NFXExecutable.run(["fixedpoints", path("rnn.h5"), "-o", path("a.h5"), "--json"])
        XCTAssertEqual(analytic.status, 0, analytic.stderr)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(analytic.stdout.utf8)) as? [String: Any])
        let count = try XCTUnwrap(summary["points"] as? Int)
        XCTAssertGreaterThan(count, 0)
        let file = try HDF5File.open(path("a.h5"))
        XCTAssertEqual(try file.dataset("/latent").shape, [count, 2])
        XCTAssertEqual(try file.dataset("/points").shape, [count, 14])
        XCTAssertEqual(try file.dataset("/eigenvalues_real").shape, [count, 2])
        XCTAssertEqual(try file.dataset("/eigenvalues_imag").shape, [count, 2])
        XCTAssertEqual(try file.dataset("/stable").elementType, .signedInteger(bits: 8))
        XCTAssertEqual(try file.root.attribute("method"), .string("analytic"))
        XCTAssertEqual(try file.root.attribute("regions_searched"), .integer(Int64(try XCTUnwrap(summary["regions_searched"] as? Int))))
        XCTAssertEqual(try file.root.attribute("input_dataset"), .string("/rnn"))

        XCTAssertEqual(try NFXExecutable.run(["fixedpoints", path("rnn.h5"), "-o", path("b.h5"), "--method", "brute",
                                              "--quiet"]).status, 0)
        let a = try latent(path("a.h5")), b = try latent(path("b.h5"))
        XCTAssertEqual(a.shape, b.shape)
        for (x, y) in zip(a.elements.sorted(), b.elements.sorted()) { XCTAssertEqual(x, y, accuracy: 1e-9) }
    }

    func testScalarAndVectorDecayMeanTheSameModelAsTheMatrix() throws {
        let matrix = try writeModel("matrix.h5", A: NDArray(shape: [2, 2], elements: [0.7, 0, 0, 0.7]))
        let scalar = try writeModel("scalar.h5", A: NDArray(shape: [], elements: [0.7]))
        let vector = try writeModel("vector.h5", A: NDArray(shape: [2], elements: [0.7, 0.7]))
        for input in [matrix, scalar, vector] {
            let result = try NFXExecutable.run(["fixedpoints", input, "--quiet"])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let reference = try latent(path("matrix.fixedpoints.h5"))
        XCTAssertEqual(try latent(path("scalar.fixedpoints.h5")), reference)
        XCTAssertEqual(try latent(path("vector.fixedpoints.h5")), reference)
    }

    func testBadModelsAndRequestsGetTheirExitCodes() throws {
        let inconsistent = try writeModel("bad.h5", A: NDArray(shape: [2, 2], elements: [0.5, 0, 0, 0.5]), badN: true)
        assertError(try NFXExecutable.run(["fixedpoints", inconsistent, "-o", path("o1.h5")]),
                    code: 65, command: "nfx fixedpoints", mentions: "N is 6 × 2")
        let good = try writeModel("good.h5", A: NDArray(shape: [], elements: [0.5]))
        assertError(try NFXExecutable.run(["fixedpoints", good + ":/model", "-o", path("o2.h5")]),
                    code: 66, command: "nfx fixedpoints", mentions: "no group /model")
        assertError(try NFXExecutable.run(["fixedpoints", good, "-o", path("o3.h5"), "--max-regions", "5"]),
                    code: 64, command: "nfx fixedpoints", mentions: "--method search")
        assertError(try NFXExecutable.run(["fixedpoints", good, "-o", good, "--force"]),
                    code: 64, command: "nfx fixedpoints", mentions: "is the input file")
        assertError(try NFXExecutable.run(["fixedpoints", good, "-o", path("o4.h5"), "--method", "guess"]),
                    code: 64, command: "nfx fixedpoints", mentions: "--method")
        let tanh = try writeModel("tanh.h5", A: NDArray(shape: [], elements: [0.5]), activation: "tanh")
        assertError(try NFXExecutable.run(["fixedpoints", tanh, "-o", path("o5.h5")]),
                    code: 64, command: "nfx fixedpoints", mentions: "--method search")
        XCTAssertEqual(try NFXExecutable.run(["fixedpoints", tanh, "-o", path("o5.h5"), "--method", "search",
                                              "--quiet"]).status, 0)
        XCTAssertFalse(try contents().contains { $0.hasPrefix("o1") || $0.hasPrefix("o2") || $0.hasPrefix("o3")
            || $0.hasPrefix("o4") || $0.hasPrefix(".") })
    }
}
