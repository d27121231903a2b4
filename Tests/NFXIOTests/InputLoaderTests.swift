import Foundation
import XCTest
import HDF5Kit
import NFXCore
@testable import NFXIO

final class InputLoaderTests: XCTestCase {
    private var folder: URL!
    private let matrixNeeds = InputRequirements(rank: 2, axesDescription: "units × time")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nfx-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func makeFile(_ name: String, _ body: (HDF5File) throws -> Void) throws -> String {
        let file = try HDF5File.create(path(name))
        try body(file)
        try file.close()
        return path(name)
    }

    private func assertNFXError(_ kind: NFXError.Kind, containing text: String, file: StaticString = #filePath,
                                line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? NFXError else { return XCTFail("not an NFXError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, kind, "\(error.message)", file: file, line: line)
            XCTAssertTrue(error.message.contains(text) || (error.hint ?? "").contains(text),
                          "'\(error.message)' / '\(error.hint ?? "")' lacks '\(text)'", file: file, line: line)
        }
    }

    func testInputSpecSplitsAtTheLastColonUnlessTheFileExists() throws {
        XCTAssertEqual(InputSpec(parsing: "rec.h5:/data"), InputSpec(path: "rec.h5", dataset: "/data"))
        XCTAssertEqual(InputSpec(parsing: "rec.h5:data"), InputSpec(path: "rec.h5", dataset: "/data"))
        XCTAssertEqual(InputSpec(parsing: "rec.h5"), InputSpec(path: "rec.h5"))
        let colonName = path("a:b.h5")
        FileManager.default.createFile(atPath: colonName, contents: Data())
        XCTAssertEqual(InputSpec(parsing: colonName), InputSpec(path: colonName))
        XCTAssertEqual(InputSpec(parsing: colonName + ":/x"), InputSpec(path: colonName, dataset: "/x"))
    }

    func testChoosesTheOnlyInputDatasetIgnoringTruth() throws {
        let file = try makeFile("sim.h5") { f in
            try f.root.write(NDArray(shape: [2, 3], elements: [1, 2, 3, 4, 5, 6.0]), to: "/data")
            try f.root.write(NDArray(shape: [2, 1], elements: [1, 2.0]), to: "/truth/W")
            try f.root.setAttribute("frame_rate", .double(30))
        }
        let input = try InputLoader.load(InputSpec(path: file), requirements: matrixNeeds)
        XCTAssertEqual(input.dataset, "/data")
        XCTAssertEqual(input.array.shape, [2, 3])
        XCTAssertFalse(input.transposed)
        XCTAssertEqual(input.fileAttributes["frame_rate"], .double(30))
    }

    func testSeveralCandidatesIsAUsageErrorListingThem() throws {
        let file = try makeFile("two.h5") { f in
            try f.root.write(NDArray(shape: [2, 2], elements: [1, 2, 3, 4.0]), to: "/a")
            try f.root.write(NDArray(shape: [2, 2], elements: [1, 2, 3, 4.0]), to: "/b")
        }
        assertNFXError(.usage, containing: "/a (2 × 2), /b (2 × 2)") {
            _ = try InputLoader.load(InputSpec(path: file), requirements: matrixNeeds)
        }
    }

    func testMissingDatasetListsWhatExists() throws {
        let file = try makeFile("one.h5") { f in
            try f.root.write(NDArray(shape: [2, 2], elements: [1, 2, 3, 4.0]), to: "/data")
        }
        assertNFXError(.noInput, containing: "/data (2 × 2)") {
            _ = try InputLoader.load(InputSpec(path: file, dataset: "/nope"), requirements: matrixNeeds)
        }
    }

    func testNWBTimeSeriesIsTransposedAndConverted() throws {
        // Stored time × ROIs (5 × 3) as int16, with conversion 0.5 and offset 1, like an NWB RoiResponseSeries.
        let file = try makeFile("session.nwb") { f in
            let series = try f.root.createGroup("/processing/ophys/Fluorescence/RoiResponseSeries")
            try series.setAttribute("neurodata_type", .string("RoiResponseSeries"))
            let data = try series.write(NDArray<Int16>(shape: [5, 3], elements: (0..<15).map { Int16($0) }), to: "data")
            try data.setAttribute("conversion", .double(0.5))
            try data.setAttribute("offset", .double(1))
        }
        let spec = InputSpec(path: file, dataset: "/processing/ophys/Fluorescence/RoiResponseSeries/data")
        let input = try InputLoader.load(spec, requirements: matrixNeeds)
        XCTAssertTrue(input.transposed)
        XCTAssertEqual(input.storedShape, [5, 3])
        XCTAssertEqual(input.array.shape, [3, 5])
        for roi in 0..<3 {
            for t in 0..<5 { XCTAssertEqual(input.array[roi, t], Double(t * 3 + roi) * 0.5 + 1) }
        }
        var keepOrientation = matrixNeeds
        keepOrientation.timeAxis = .last
        XCTAssertEqual(try InputLoader.load(spec, requirements: keepOrientation).array.shape, [5, 3])
    }

    func testElectricalSeriesChannelConversionScalesEachChannel() throws {
        let file = try makeFile("ephys.nwb") { f in
            let series = try f.root.createGroup("/acquisition/ElectricalSeries")
            try series.setAttribute("neurodata_type", .string("ElectricalSeries"))
            let data = try series.write(NDArray<Int16>(shape: [4, 2], elements: [1, 1, 2, 2, 3, 3, 4, 4]), to: "data")
            try data.setAttribute("conversion", .double(1e-6))
            try series.write(NDArray(shape: [2], elements: [1.0, 2.0]), to: "channel_conversion")
        }
        let input = try InputLoader.load(InputSpec(path: file, dataset: "/acquisition/ElectricalSeries/data"),
                                         requirements: matrixNeeds)
        XCTAssertEqual(input.array.shape, [2, 4])
        XCTAssertEqual(input.array.elements, [1e-6, 2e-6, 3e-6, 4e-6, 2e-6, 4e-6, 6e-6, 8e-6])
    }

    func testNPYInputIsReadAndTransposedOnRequest() throws {
        let file = path("x.npy")
        try NPY.encode(NDArray(shape: [3, 2], elements: [1, 2, 3, 4, 5, 6.0])).write(to: URL(fileURLWithPath: file))
        let input = try InputLoader.load(InputSpec(path: file), requirements: matrixNeeds)
        XCTAssertEqual(input.format, .npy)
        XCTAssertEqual(input.array.shape, [3, 2])
        var timeFirst = matrixNeeds
        timeFirst.timeAxis = .first
        XCTAssertEqual(try InputLoader.load(InputSpec(path: file), requirements: timeFirst).array.elements,
                       [1, 3, 5, 2, 4, 6])
        assertNFXError(.usage, containing: "no dataset") {
            _ = try InputLoader.load(InputSpec(path: file, dataset: "/data"), requirements: matrixNeeds)
        }
    }

    func testBadInputsGetTheContractsExitCodes() throws {
        assertNFXError(.noInput, containing: "no such file") {
            _ = try InputLoader.load(InputSpec(path: path("absent.h5")), requirements: matrixNeeds)
        }
        assertNFXError(.noInput, containing: "is a directory") {
            _ = try InputLoader.load(InputSpec(path: folder.path), requirements: matrixNeeds)
        }
        let text = path("notes.h5")
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        assertNFXError(.noInput, containing: "neither an HDF5 nor") {
            _ = try InputLoader.load(InputSpec(path: text), requirements: matrixNeeds)
        }
        let vector = try makeFile("vector.h5") { f in
            try f.root.write(NDArray(shape: [4], elements: [1, 2, 3, 4.0]), to: "/trace")
        }
        assertNFXError(.data, containing: "is 1-D") {
            _ = try InputLoader.load(InputSpec(path: vector, dataset: "/trace"), requirements: matrixNeeds)
        }
        let empty = try makeFile("empty.h5") { f in
            try f.root.write(NDArray<Double>(shape: [0, 10], elements: []), to: "/data")
        }
        assertNFXError(.data, containing: "is empty") {
            _ = try InputLoader.load(InputSpec(path: empty), requirements: matrixNeeds)
        }
        let nonFinite = try makeFile("nan.h5") { f in
            try f.root.write(NDArray(shape: [1, 3], elements: [1, .nan, 3]), to: "/withNaN")
            try f.root.write(NDArray(shape: [1, 3], elements: [1, .infinity, 3]), to: "/withInf")
        }
        assertNFXError(.data, containing: "1 NaN value") {
            _ = try InputLoader.load(InputSpec(path: nonFinite, dataset: "/withNaN"), requirements: matrixNeeds)
        }
        let masked = InputRequirements(rank: 2, axesDescription: "units × time", allowsNaN: true)
        XCTAssertNoThrow(try InputLoader.load(InputSpec(path: nonFinite, dataset: "/withNaN"), requirements: masked))
        assertNFXError(.data, containing: "infinite") {
            _ = try InputLoader.load(InputSpec(path: nonFinite, dataset: "/withInf"), requirements: masked)
        }
    }

    func testTruncatedHDF5IsAnIOError() throws {
        let whole = try makeFile("whole.h5") { f in
            try f.root.write(NDArray(shape: [100, 100], elements: Array(repeating: 1.5, count: 10_000)), to: "/data")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let truncated = path("truncated.h5")
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        assertNFXError(.io, containing: "truncated") {
            _ = try InputLoader.load(InputSpec(path: truncated, dataset: "/data"), requirements: matrixNeeds)
        }
    }
}
