import Foundation
import XCTest
@testable import HDF5Kit

/// Reads a file written by h5py (Fixtures/h5py_fixture.h5, made by Scripts/fixtures/make_fixtures.py).
final class H5pyFixtureTests: XCTestCase {
    private func fixture() throws -> HDF5File {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/h5py_fixture", withExtension: "h5"))
        return try HDF5File.open(url.path)
    }

    func testReadsRootAttributesWrittenByH5py() throws {
        let file = try fixture()
        XCTAssertEqual(try file.root.attribute("title"), .string("made by h5py"))
        XCTAssertEqual(try file.root.attribute("fixed"), .string("fixed-length"))
        XCTAssertEqual(try file.root.attribute("frame_rate"), .double(30))
        XCTAssertEqual(try file.root.attribute("count"), .integer(7))
        XCTAssertEqual(try file.root.attribute("shape_hint"), .integers([3, 4]))
    }

    func testReadsEveryNumericDatasetByFormula() throws {
        let file = try fixture()
        let matrix = try file.dataset("matrix").read(as: Double.self)
        XCTAssertEqual(matrix.shape, [3, 4])
        for i in 0..<3 { for j in 0..<4 { XCTAssertEqual(matrix[i, j], Double(10 * i + j)) } }
        XCTAssertEqual(try file.dataset("float32").read(as: Double.self).elements, (0..<6).map { Double($0) / 4 })
        XCTAssertEqual(try file.dataset("int16").read(as: Double.self).elements, (-5..<5).map(Double.init))
        XCTAssertEqual(try file.dataset("int64_vector").read(as: Int64.self).elements, (0..<10).map { Int64($0) * 1000 })
        let tensor = try file.dataset("tensor").read(as: Double.self)
        XCTAssertEqual(tensor.shape, [2, 3, 4])
        XCTAssertEqual(tensor[1, 2, 3], 23)
    }

    func testReadsChunkedCompressedDatasetAndItsRows() throws {
        let big = try fixture().dataset("/group/nested/big")
        XCTAssertEqual(big.shape, [200, 1000])
        XCTAssertEqual(big.storageInfo.chunks, [16, 250])
        XCTAssertEqual(big.storageInfo.filters, ["shuffle", "gzip(5)"])
        let all = try big.read(as: Double.self)
        XCTAssertEqual(all[123, 456], 123 - 0.456, accuracy: 1e-15)
        let rows = try big.readRows(30..<35, as: Double.self)
        XCTAssertEqual(rows.shape, [5, 1000])
        XCTAssertEqual(rows[4, 999], 34 - 0.999, accuracy: 1e-15)
    }

    func testStringDatasetIsRefusedAsNumbers() throws {
        let strings = try fixture().dataset("strings")
        XCTAssertEqual(strings.elementType, .string)
        XCTAssertThrowsError(try strings.read(as: Double.self)) { error in
            guard case HDF5Error.unsupportedType = error else { return XCTFail("\(error)") }
        }
    }

    func testGroupAttributesAppearInTheWalk() throws {
        let entries = try fixture().walk()
        let series = try XCTUnwrap(entries.first { $0.path == "/processing/ophys/Fluorescence/RoiResponseSeries" })
        XCTAssertEqual(series.kind, .group)
        XCTAssertEqual(series.attributes.first?.value, .string("RoiResponseSeries"))
        XCTAssertTrue(entries.contains { $0.path == "/group/nested/big" && $0.kind == .dataset })
    }
}
