import Foundation
import XCTest
import HDF5Kit
import NFXCore
@testable import NFXIO

final class AtomicOutputTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nfx-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    private func folderContents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    private func kind(of body: () throws -> Void) -> NFXError.Kind? {
        do { try body(); return nil } catch { return (error as? NFXError)?.kind }
    }

    func testCommitRenamesACompleteFileIntoPlace() throws {
        let output = try AtomicOutput(path: path("result.h5"), force: false)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.temporaryPath))
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
        var provenance = Provenance(command: "test", arguments: ["nfx", "test", "it's"], seed: 3)
        provenance.record("max_iter", 100)
        try writeOutput(output, provenance: provenance) { file in
            try file.root.write(NDArray(shape: [2], elements: [1, 2.0]), to: "/x")
        }
        XCTAssertEqual(try folderContents(), ["result.h5"])
        let file = try HDF5File.open(path("result.h5"))
        XCTAssertEqual(try file.dataset("/x").read(as: Double.self).elements, [1, 2])
        XCTAssertEqual(try file.root.attribute("nfx_command"), .string("test"))
        XCTAssertEqual(try file.root.attribute("nfx_argv"), .string("nfx test 'it'\\''s'"))
        XCTAssertEqual(try file.root.attribute("seed"), .integer(3))
        XCTAssertEqual(try file.root.attribute("max_iter"), .integer(100))
        XCTAssertEqual(try file.root.attribute("nfx_version"), .string(NFXVersion.current))
        XCTAssertNotNil(try file.root.attribute("created_utc")?.stringValue)
        XCTAssertNotNil(try file.root.attribute("wall_seconds")?.doubleValue)
    }

    func testAFailingWriterLeavesNothingBehind() throws {
        let existing = path("keep.h5")
        try "old contents".write(toFile: existing, atomically: true, encoding: .utf8)
        let output = try AtomicOutput(path: existing, force: true)
        struct Boom: Error {}
        XCTAssertThrowsError(try writeOutput(output, provenance: Provenance(command: "t")) { _ in throw Boom() })
        XCTAssertEqual(try folderContents(), ["keep.h5"])
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "old contents")
    }

    func testExistingOutputNeedsForce() throws {
        FileManager.default.createFile(atPath: path("there.h5"), contents: Data("x".utf8))
        XCTAssertEqual(kind { _ = try AtomicOutput(path: path("there.h5"), force: false) }, .cannotCreate)
        XCTAssertNil(kind { try AtomicOutput(path: path("there.h5"), force: true).discard() })
        XCTAssertEqual(try folderContents(), ["there.h5"])
    }

    func testOutputEqualToInputIsAUsageError() throws {
        FileManager.default.createFile(atPath: path("in.h5"), contents: Data("x".utf8))
        XCTAssertEqual(kind { _ = try AtomicOutput(path: path("in.h5"), force: true, inputs: [path("in.h5")]) }, .usage)
        // The same file reached through another spelling of the path.
        let other = folder.path + "/./in.h5"
        XCTAssertEqual(kind { _ = try AtomicOutput(path: other, force: true, inputs: [path("in.h5")]) }, .usage)
    }

    func testMissingOrUnwritableFolderCannotBeCreated() throws {
        XCTAssertEqual(kind { _ = try AtomicOutput(path: path("no/such/dir/x.h5"), force: false) }, .cannotCreate)
        XCTAssertEqual(kind { _ = try AtomicOutput(path: folder.path, force: true) }, .cannotCreate)
        guard getuid() != 0 else { return }  // root writes anywhere; the end-to-end test covers a read-only mount
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder.path)
        XCTAssertEqual(kind { _ = try AtomicOutput(path: path("x.h5"), force: false) }, .cannotCreate)
    }

    func testJSONEncodingIsStableAndEscaped() {
        let value = JSONValue.object(["b": .integer(1), "a": .string("q\"\n"), "c": .array([.number(0.5), .null])])
        XCTAssertEqual(value.encoded, #"{"a":"q\"\n","b":1,"c":[0.5,null]}"#)
        XCTAssertEqual(JSONValue.number(.nan).encoded, "null")
    }
}
