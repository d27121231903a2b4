import XCTest
@testable import SpikeSorting

final class SpikeSortingErrorTests: XCTestCase {
    func testDescriptionIsTheMessage() {
        XCTAssertEqual(SpikeSortingError.invalidOption(flag: "--threshold", message: "--threshold must be > 0").description,
                       "--threshold must be > 0")
    }
}
