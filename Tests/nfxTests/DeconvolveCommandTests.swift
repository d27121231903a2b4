import Foundation
import XCTest
import HDF5Kit
import NFXCore

final class DeconvolveCommandTests: CommandTestCase {
    func testWritesTheContractsDatasetsAndScoresAgainstTheTruth() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "calcium", "-o", path("ca.h5"), "--neurons", "5",
                                              "--frames", "3000", "--firing-rate", "0.5", "--quiet"]).status, 0)
        let result = try NFXExecutable.run(["deconvolve", path("ca.h5"), "--s-min", "0.5", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try HDF5File.open(path("ca.deconvolve.h5"))
        XCTAssertEqual(try file.dataset("/spikes").shape, [5, 3000])
        XCTAssertEqual(try file.dataset("/calcium").shape, [5, 3000])
        for name in ["/baseline", "/sigma", "/lambda"] { XCTAssertEqual(try file.dataset(name).shape, [5], name) }
        XCTAssertEqual(try file.dataset("/g").shape, [5, 1])
        XCTAssertEqual(try file.root.attribute("frame_rate")?.doubleValue, 30)
        XCTAssertEqual(try file.root.attribute("s_min")?.doubleValue, 0.5)

        let compare = try NFXExecutable.run(["compare", path("ca.deconvolve.h5"), path("ca.h5"), "--json"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let scores = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(scores["mean_f1"] as? Double), 0.85)
        XCTAssertGreaterThan(try XCTUnwrap(scores["mean_binned_correlation"] as? Double), 0.75)
    }

    func testNaNFramesAndFlatNeuronsAreHandled() throws {
        var generator = SeededGenerator(seed: 1)
        var values = (0..<3 * 400).map { _ in 0.2 * generator.normal() }
        for t in 0..<400 { values[t] = 5 }                       // neuron 0 constant
        for t in 1000..<1020 { values[t] = .nan }                 // neuron 2 has a gap
        try NPY.encode(NDArray(shape: [3, 400], elements: values)).write(to: URL(fileURLWithPath: path("f.npy")))
        let result = try NFXExecutable.run(["deconvolve", path("f.npy"), "-o", path("out.h5"), "--g", "0.9"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("neuron 0: the trace is constant"), result.stderr)
        let spikes = try HDF5File.open(path("out.h5")).dataset("/spikes").read(as: Double.self)
        XCTAssertTrue((0..<400).allSatisfy { spikes[0, $0] == 0 })
        for t in 0..<400 { XCTAssertEqual(spikes[2, t].isNaN, (200..<220).contains(t), "frame \(t)") }
    }

    func testAROrderTwoWritesTwoCoefficientsPerNeuron() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "calcium", "-o", path("ca2.h5"), "--ar-order", "2",
                                              "--tau", "0.68,0.1", "--neurons", "3", "--quiet"]).status, 0)
        let result = try NFXExecutable.run(["deconvolve", path("ca2.h5"), "--ar-order", "2", "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let g = try HDF5File.open(path("ca2.deconvolve.h5")).dataset("/g").read(as: Double.self)
        XCTAssertEqual(g.shape, [3, 2])
        XCTAssertTrue((0..<3).allSatisfy { g[$0, 0] > 1 && g[$0, 1] < 0 }, "\(g.elements)")
    }

    func testSMinRefinesTheEstimatedGUnlessTurnedOff() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "calcium", "-o", path("ca.h5"), "--neurons", "3",
                                              "--frames", "3000", "--firing-rate", "0.5", "--quiet"]).status, 0)
        func g(_ arguments: [String], _ name: String) throws -> [Double] {
            let result = try NFXExecutable.run(["deconvolve", path("ca.h5"), "-o", path(name), "--quiet"] + arguments)
            XCTAssertEqual(result.status, 0, result.stderr)
            return try HDF5File.open(path(name)).dataset("/g").read(as: Double.self).elements
        }
        let l1 = try g([], "l1.h5")
        let kept = try g(["--s-min", "0.5", "--no-refine-parameters"], "kept.h5")
        let refined = try g(["--s-min", "0.5"], "refined.h5")
        XCTAssertEqual(kept, l1)
        XCTAssertNotEqual(refined, l1)
        XCTAssertEqual(try HDF5File.open(path("kept.h5")).root.attribute("refine_parameters")?.stringValue, "false")
    }

    func testUnimplementedModelsAndBadValuesAreUsageErrors() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "calcium", "-o", path("ca.h5"), "--quiet"]).status, 0)
        assertError(try NFXExecutable.run(["deconvolve", path("ca.h5"), "--ar-order", "2", "--g", "0.9"]),
                    code: 64, command: "nfx deconvolve", mentions: "two values")
        assertError(try NFXExecutable.run(["deconvolve", path("ca.h5"), "--ar-order", "2", "--penalty", "l0"]),
                    code: 64, command: "nfx deconvolve", mentions: "--ar-order 1 only")
        assertError(try NFXExecutable.run(["deconvolve", path("ca.h5"), "--g", "1.5"]),
                    code: 64, command: "nfx deconvolve", mentions: "--g")
        XCTAssertEqual(try contents(), ["ca.h5"])
    }
}
