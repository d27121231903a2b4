import XCTest
import LinearAlgebra

final class ThreadTests: XCTestCase {
    func testSetThenCountRoundTrips() {
        let original = BLASThreads.count
        defer { BLASThreads.set(original) }
        XCTAssertGreaterThanOrEqual(original, 1)
        BLASThreads.set(1)
        XCTAssertEqual(BLASThreads.count, 1)
        BLASThreads.set(2)
        XCTAssertEqual(BLASThreads.count, 2)
    }

    func testWithSingleThreadedBLASRestoresPreviousCountEvenOnThrow() {
        let original = BLASThreads.count
        defer { BLASThreads.set(original) }
        BLASThreads.set(2)
        let inside = withSingleThreadedBLAS { BLASThreads.count }
        XCTAssertEqual(inside, 1)
        XCTAssertEqual(BLASThreads.count, 2)

        struct Stop: Error {}
        XCTAssertThrowsError(try withSingleThreadedBLAS { throw Stop() })
        XCTAssertEqual(BLASThreads.count, 2)
    }

    func testConfigurationNamesOpenBLASAndCore() {
        let configuration = BLASThreads.configuration
        XCTAssertTrue(configuration.contains("OpenBLAS"), configuration)
        XCTAssertTrue(configuration.contains("core: "), configuration)
    }
}
