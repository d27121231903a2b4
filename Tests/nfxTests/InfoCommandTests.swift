import Foundation
import XCTest
import NFXCore

final class InfoCommandTests: CommandTestCase {
    func testListsEveryDatasetWithShapeTypeAndStorage() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "tensor", "-o", path("t.h5"), "--quiet"]).status, 0)
        let result = try NFXExecutable.run(["info", path("t.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        for line in ["/data", "float64", "50 × 100 × 30", "/truth/factors/mode0", "50 × 3", "/truth/factors/mode2",
                     "nfx_command", "simulate", "seed"] {
            XCTAssertTrue(result.stdout.contains(line), "missing \(line) in:\n\(result.stdout)")
        }
        // 50·100·30 Float64 = 1.2 MB: chunked and compressed.
        XCTAssertTrue(result.stdout.contains("shuffle, gzip(4)"), result.stdout)
    }

    func testJSONListsObjectsAndAttributes() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "rnn", "-o", path("r.h5"), "--quiet"]).status, 0)
        let result = try NFXExecutable.run(["info", path("r.h5"), "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let objects = try XCTUnwrap(object["objects"] as? [[String: Any]])
        let group = try XCTUnwrap(objects.first { $0["path"] as? String == "/rnn" })
        XCTAssertEqual((group["attributes"] as? [String: Any])?["activation"] as? String, "relu")
        let m = try XCTUnwrap(objects.first { $0["path"] as? String == "/rnn/M" })
        XCTAssertEqual(m["shape"] as? [Int], [50, 2])
        XCTAssertEqual((object["attributes"] as? [String: Any])?["kind"] as? String, "rnn")
    }

    func testHelpPrintsUsageAndExitsZero() throws {
        for arguments in [["--help"], ["fixedpoints", "--help"], ["simulate", "rnn", "--help"], ["info", "-h"]] {
            let result = try NFXExecutable.run(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stdout.contains("USAGE:"), "\(arguments): \(result.stdout)")
            XCTAssertFalse(result.stderr.contains("error"), result.stderr)
        }
    }

    func testDescribesNPYFiles() throws {
        try NPY.encode(NDArray(shape: [3, 4], elements: Array(repeating: 0, count: 12)))
            .write(to: URL(fileURLWithPath: path("x.npy")))
        let result = try NFXExecutable.run(["info", path("x.npy")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("NumPy .npy, float64"), result.stdout)
        XCTAssertTrue(result.stdout.contains("3 × 4"), result.stdout)
    }
}
