import Foundation
import XCTest
import HDF5Kit
import NFXCore
@testable import NFXIO

final class RecordingReaderTests: XCTestCase {
    private var folder: URL!
    private let needs = InputRequirements(rank: 2, axesDescription: "channels × samples")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nfx-reader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Every stretch equals the same columns of the whole input as `InputLoader` reads it.
    private func assertStretchesMatchTheWholeInput(_ spec: InputSpec, file: StaticString = #filePath, line: UInt = #line) throws {
        let whole = try InputLoader.load(spec, requirements: needs).array
        let reader = try RecordingReader(spec, requirements: needs)
        XCTAssertEqual([reader.channels, reader.samples], whole.shape, file: file, line: line)
        for range in [0..<reader.samples, 0..<1, 2..<5, (reader.samples - 3)..<reader.samples] {
            let expected = (0..<reader.channels).flatMap { k in
                whole.elements[(k * reader.samples + range.lowerBound)..<(k * reader.samples + range.upperBound)]
            }
            XCTAssertEqual(try reader.read(range), expected, "\(range)", file: file, line: line)
        }
    }

    func testStretchesOfAChannelsByTimeDatasetMatchTheWholeRead() throws {
        let file = try HDF5File.create(path("r.h5"))
        try file.root.write(NDArray<Float>(shape: [3, 8], elements: (0..<24).map { Float($0) * 0.5 - 3 }), to: "data")
        try file.close()
        try assertStretchesMatchTheWholeInput(InputSpec(path: path("r.h5")))
    }

    func testStretchesOfAnNWBElectricalSeriesAreTransposedAndConverted() throws {
        let file = try HDF5File.create(path("e.nwb"))
        let series = try file.root.createGroup("/acquisition/ElectricalSeries")
        try series.setAttribute("neurodata_type", .string("ElectricalSeries"))
        let data = try series.write(NDArray<Int16>(shape: [7, 2], elements: (0..<14).map { Int16($0 * 3 - 10) }), to: "data")
        try data.setAttribute("conversion", .double(1e-3))
        try data.setAttribute("offset", .double(0.25))
        try series.write(NDArray(shape: [2], elements: [1.0, 2.0]), to: "channel_conversion")
        try file.close()
        let spec = InputSpec(path: path("e.nwb"), dataset: "/acquisition/ElectricalSeries/data")
        try assertStretchesMatchTheWholeInput(spec)
        let reader = try RecordingReader(spec, requirements: needs)
        XCTAssertTrue(reader.transposed)
        XCTAssertEqual(reader.storedShape, [7, 2])
        XCTAssertEqual(reader.dataset, "/acquisition/ElectricalSeries/data")
    }

    func testNPYIsServedFromMemory() throws {
        try NPY.encode(NDArray(shape: [2, 5], elements: (0..<10).map(Double.init))).write(to: URL(fileURLWithPath: path("x.npy")))
        try assertStretchesMatchTheWholeInput(InputSpec(path: path("x.npy")))
    }

    func testANaNIsAnErrorNamingWhereItIs() throws {
        let file = try HDF5File.create(path("n.h5"))
        var values = (0..<20).map(Double.init)
        values[13] = .nan
        try file.root.write(NDArray(shape: [2, 10], elements: values), to: "data")
        try file.close()
        let reader = try RecordingReader(InputSpec(path: path("n.h5")), requirements: needs)
        XCTAssertNoThrow(try reader.read(0..<3))
        XCTAssertThrowsError(try reader.read(0..<10)) { error in
            let message = (error as? NFXError)?.description ?? "\(error)"
            XCTAssert(message.contains("channel 1, sample 3"), message)
        }
    }
}
