import Foundation
import XCTest
@testable import HDF5Kit

/// Files other tools write that once crashed or confused the reader (Fixtures/edge_cases.h5, made by h5py).
final class EdgeCaseTests: XCTestCase {
    private func fixture() throws -> HDF5File {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/edge_cases", withExtension: "h5"))
        return try HDF5File.open(url.path)
    }

    func testSoftLinkLoopAndSecondHardLinkAreListedOnce() throws {
        let paths = try fixture().walk().map(\.path)
        XCTAssertEqual(paths, ["/a", "/a/data", "/lzf", "/nothing"], "\(paths)")
    }

    func testEmptyAttributeAndDatasetReadAsNothing() throws {
        let file = try fixture()
        XCTAssertNil(try file.root.attribute("empty"))
        let nothing = try file.dataset("nothing")
        XCTAssertEqual(nothing.shape, [0])
        XCTAssertTrue(try nothing.read(as: Double.self).isEmpty)
    }

    func testUndecodableFilterIsNamed() throws {
        let dataset = try fixture().dataset("lzf")
        XCTAssertEqual(dataset.storageInfo.unavailableFilters, ["lzf"])
        XCTAssertThrowsError(try dataset.read(as: Double.self)) { error in
            guard case HDF5Error.unavailableFilter(_, _, let filters) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(filters, ["lzf"])
        }
    }
}
