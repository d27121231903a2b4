import Foundation
import XCTest

/// Runs the built `nfx` executable as a user would and captures what it prints.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum NFXExecutable {
    /// `swift test` puts the test bundle beside the products, so `nfx` is next to it.
    static var url: URL {
        let bundleFolder = Bundle.main.bundleURL
        let candidates = [bundleFolder.appendingPathComponent("nfx"),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                              .appendingPathComponent("nfx")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    static func start(_ arguments: [String], in folder: URL? = nil) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = folder }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    @discardableResult
    static func run(_ arguments: [String], in folder: URL? = nil) throws -> CommandResult {
        let (process, out, err) = try start(arguments, in: folder)
        // Read before waiting so a chatty command cannot fill the pipe and block.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// A scratch folder per test, removed afterwards.
class CommandTestCase: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nfx-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() }

    /// Asserts the contract's error form: exit code, one `nfx <command>: error:` line, optional `hint:` line.
    func assertError(_ result: CommandResult, code: Int32, command: String, mentions text: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, code, result.stderr, file: file, line: line)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertTrue((1...2).contains(lines.count), "expected 1–2 lines, got:\n\(result.stderr)", file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("\(command): error: ") ?? false, result.stderr, file: file, line: line)
        if lines.count == 2 { XCTAssertTrue(lines[1].hasPrefix("hint: "), result.stderr, file: file, line: line) }
        XCTAssertTrue(result.stderr.contains(text), "stderr lacks '\(text)':\n\(result.stderr)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("HDF5-DIAG"), file: file, line: line)
        XCTAssertTrue(result.stdout.isEmpty, "stdout should be empty on error: \(result.stdout)", file: file, line: line)
    }
}
