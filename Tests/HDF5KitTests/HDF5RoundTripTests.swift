import Foundation
import XCTest
import NFXCore
@testable import HDF5Kit

final class HDF5RoundTripTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nfx-hdf5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func testEveryNumericTypeRoundTripsWithItsShape() throws {
        let file = try HDF5File.create(path("types.h5"))
        try file.root.write(NDArray(shape: [2, 3], elements: [1.5, -2, 3, 4, 5, 6.25]), to: "f64")
        try file.root.write(NDArray<Float>(shape: [3], elements: [1.5, 2, -3]), to: "f32")
        try file.root.write(NDArray<Int16>(shape: [2, 2], elements: [-32768, 0, 1, 32767]), to: "i16")
        try file.root.write(NDArray<Int32>(shape: [2], elements: [Int32.min, Int32.max]), to: "i32")
        try file.root.write(NDArray<Int64>(shape: [2, 1, 2], elements: [Int64.min, -1, 0, Int64.max]), to: "deep/i64")
        try file.close()

        let reopened = try HDF5File.open(path("types.h5"))
        XCTAssertEqual(try reopened.dataset("f64").read(as: Double.self),
                       NDArray(shape: [2, 3], elements: [1.5, -2, 3, 4, 5, 6.25]))
        XCTAssertEqual(try reopened.dataset("f32").read(as: Float.self).elements, [1.5, 2, -3])
        XCTAssertEqual(try reopened.dataset("i16").read(as: Int16.self).elements, [-32768, 0, 1, 32767])
        XCTAssertEqual(try reopened.dataset("i32").read(as: Int32.self).elements, [Int32.min, Int32.max])
        let deep = try reopened.dataset("/deep/i64")
        XCTAssertEqual(deep.shape, [2, 1, 2])
        XCTAssertEqual(deep.elementType, .signedInteger(bits: 64))
        XCTAssertEqual(try deep.read(as: Int64.self).elements, [Int64.min, -1, 0, Int64.max])
        // Integers convert to Float64 on read, as analyses need.
        XCTAssertEqual(try reopened.dataset("i16").read(as: Double.self).elements, [-32768, 0, 1, 32767])
    }

    func testAttributesOfEveryKindRoundTrip() throws {
        let file = try HDF5File.create(path("attributes.h5"))
        let dataset = try file.root.write(NDArray(shape: [1], elements: [0.0]), to: "x")
        try file.root.setAttribute("name", .string("ünïcode ✓"))
        try file.root.setAttribute("rate", .double(30.5))
        try file.root.setAttribute("count", .integer(-7))
        try file.root.setAttribute("shape", .integers([3, 4]))
        try file.root.setAttribute("weights", .doubles([0.5, 0.25]))
        try file.root.setAttribute("labels", .strings(["a", "bc"]))
        try dataset.setAttribute("unit", .string("µV"))
        try file.root.setAttribute("rate", .double(60))  // replacing is allowed
        try file.close()

        let reopened = try HDF5File.open(path("attributes.h5"))
        XCTAssertEqual(try reopened.root.attribute("name"), .string("ünïcode ✓"))
        XCTAssertEqual(try reopened.root.attribute("rate"), .double(60))
        XCTAssertEqual(try reopened.root.attribute("count"), .integer(-7))
        XCTAssertEqual(try reopened.root.attribute("shape"), .integers([3, 4]))
        XCTAssertEqual(try reopened.root.attribute("weights"), .doubles([0.5, 0.25]))
        XCTAssertEqual(try reopened.root.attribute("labels"), .strings(["a", "bc"]))
        XCTAssertEqual(try reopened.dataset("x").attribute("unit"), .string("µV"))
        XCTAssertNil(try reopened.root.attribute("missing"))
        XCTAssertEqual(try reopened.root.attributeNames(), ["count", "labels", "name", "rate", "shape", "weights"])
    }

    func testLargeDatasetsAreChunkedAndCompressedAutomatically() throws {
        let rows = 64, columns = 4096  // 2 MiB of Float64: above the 1 MiB threshold
        let values = (0..<rows * columns).map { Double($0 % 977) * 0.5 }
        let file = try HDF5File.create(path("big.h5"))
        try file.root.write(NDArray(shape: [rows, columns], elements: values), to: "big")
        try file.root.write(NDArray(shape: [4], elements: [1, 2, 3, 4.0]), to: "small")
        try file.close()

        let reopened = try HDF5File.open(path("big.h5"))
        let big = try reopened.dataset("big")
        let chunks = try XCTUnwrap(big.storageInfo.chunks)
        XCTAssertLessThanOrEqual(chunks.reduce(8, *), HDF5Layout.targetChunkBytes)
        XCTAssertEqual(big.storageInfo.filters, ["shuffle", "gzip(4)"])
        XCTAssertNil(try reopened.dataset("small").storageInfo.chunks)
        XCTAssertEqual(try big.read(as: Double.self).elements, values)
        let attributes = try FileManager.default.attributesOfItem(atPath: path("big.h5"))
        XCTAssertLessThan((attributes[.size] as! NSNumber).intValue, rows * columns * 8 / 2, "gzip should shrink it")
    }

    func testReadRowsReturnsExactlyThatHyperslab() throws {
        let values = (0..<50 * 7).map(Double.init)
        let file = try HDF5File.create(path("rows.h5"))
        try file.root.write(NDArray(shape: [50, 7], elements: values), to: "m", layout: .chunked([8, 7]))
        try file.close()
        let dataset = try HDF5File.open(path("rows.h5")).dataset("m")
        let slab = try dataset.readRows(13..<21, as: Double.self)
        XCTAssertEqual(slab.shape, [8, 7])
        XCTAssertEqual(slab.elements, Array(values[13 * 7..<21 * 7]))
        XCTAssertEqual(try dataset.readRows(49..<50, as: Double.self).elements, Array(values[49 * 7..<50 * 7]))
        XCTAssertThrowsError(try dataset.readRows(45..<51, as: Double.self))
    }

    func testEmptyDatasetReadsAsEmpty() throws {
        let file = try HDF5File.create(path("empty.h5"))
        try file.root.write(NDArray<Double>(shape: [0, 5], elements: []), to: "nothing")
        try file.close()
        let array = try HDF5File.open(path("empty.h5")).dataset("nothing").read(as: Double.self)
        XCTAssertEqual(array.shape, [0, 5])
        XCTAssertTrue(array.isEmpty)
    }

    func testWalkListsGroupsAndDatasetsDepthFirst() throws {
        let file = try HDF5File.create(path("walk.h5"))
        try file.root.write(NDArray(shape: [2], elements: [1, 2.0]), to: "/truth/W")
        try file.root.write(NDArray(shape: [1, 2], elements: [1, 2.0]), to: "/data")
        try file.root.createGroup("/a/b/c")
        try file.close()
        let entries = try HDF5File.open(path("walk.h5")).walk()
        XCTAssertEqual(entries.map(\.path), ["/a", "/a/b", "/a/b/c", "/data", "/truth", "/truth/W"])
        XCTAssertEqual(entries.first { $0.path == "/data" }?.dataset?.shape, [1, 2])
    }

    func testMissingObjectsAreNamedInTheError() throws {
        let file = try HDF5File.create(path("missing.h5"))
        try file.root.createGroup("g")
        try file.close()
        let reopened = try HDF5File.open(path("missing.h5"))
        XCTAssertThrowsError(try reopened.dataset("/nope/deeper")) { error in
            XCTAssertEqual(error as? HDF5Error, .notFound(file: path("missing.h5"), object: "/nope/deeper"))
        }
        XCTAssertThrowsError(try reopened.dataset("g")) { error in
            XCTAssertEqual(error as? HDF5Error, .notADataset(file: path("missing.h5"), object: "/g"))
        }
    }

    func testNonHDF5AndTruncatedFilesAreTellApart() throws {
        let text = path("text.h5")
        try "not hdf5 at all".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HDF5File.open(text)) { XCTAssertEqual($0 as? HDF5Error, .notHDF5(file: text)) }

        let whole = path("whole.h5")
        let file = try HDF5File.create(whole)
        try file.root.write(NDArray(shape: [1000], elements: Array(repeating: 1.0, count: 1000)), to: "x")
        try file.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let truncated = path("truncated.h5")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try HDF5File.open(truncated).dataset("x").read(as: Double.self)) { error in
            guard let error = error as? HDF5Error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.isIOFailure, "\(error)")
        }
    }

    func testCreateRefusesToReplaceUnlessAskedTo() throws {
        let target = path("once.h5")
        try HDF5File.create(target).close()
        XCTAssertThrowsError(try HDF5File.create(target))
        XCTAssertNoThrow(try HDF5File.create(target, overwrite: true).close())
    }
}
