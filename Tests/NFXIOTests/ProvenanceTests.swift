import Foundation
import XCTest
@testable import NFXIO

final class ProvenanceTests: XCTestCase {
    func testTimestampIsWhatISO8601DateFormatterWrites() {
        let formatter = ISO8601DateFormatter()
        for seconds in [0, 951_782_400.5, 1_796_418_277.999, 4_102_444_799] as [Double] {
            let date = Date(timeIntervalSince1970: seconds)
            XCTAssertEqual(Provenance.utcTimestamp(date), formatter.string(from: date), "\(seconds)")
        }
    }
}
