import Foundation
import XCTest

/// Each bad input gets the contract's exit code, a one-line error naming the file, and leaves no output behind.
final class BadInputTests: CommandTestCase {
    func testMissingFileIsInputMissing() throws {
        let result = try NFXExecutable.run(["info", path("absent.h5")])
        assertError(result, code: 66, command: "nfx info", mentions: "absent.h5: no such file")
    }

    func testDirectoryIsInputMissing() throws {
        let result = try NFXExecutable.run(["info", folder.path])
        assertError(result, code: 66, command: "nfx info", mentions: "is a directory")
    }

    func testNonHDF5FileIsInputMissing() throws {
        try "time,value\n0,1\n".write(toFile: path("table.csv"), atomically: true, encoding: .utf8)
        let result = try NFXExecutable.run(["info", path("table.csv")])
        assertError(result, code: 66, command: "nfx info", mentions: "neither an HDF5 nor a NumPy .npy file")
    }

    func testTruncatedHDF5IsAnIOError() throws {
        XCTAssertEqual(try NFXExecutable.run(["simulate", "matrix", "-o", path("whole.h5"), "--quiet"]).status, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("whole.h5")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path("cut.h5")))
        let result = try NFXExecutable.run(["info", path("cut.h5")])
        assertError(result, code: 74, command: "nfx info", mentions: "cut.h5")
    }

    func testExistingOutputWithoutForceIsRefused() throws {
        try "precious".write(toFile: path("m.h5"), atomically: true, encoding: .utf8)
        let result = try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5")])
        assertError(result, code: 73, command: "nfx simulate", mentions: "already exists")
        XCTAssertTrue(result.stderr.contains("--force"))
        XCTAssertEqual(try String(contentsOfFile: path("m.h5"), encoding: .utf8), "precious")
        XCTAssertEqual(try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5"), "--force"]).status, 0)
        XCTAssertEqual(try contents(), ["m.h5"])
    }

    func testMissingOutputFolderIsRefused() throws {
        let result = try NFXExecutable.run(["simulate", "matrix", "-o", path("no/such/folder/m.h5")])
        assertError(result, code: 73, command: "nfx simulate", mentions: "does not exist")
    }

    func testUnwritableOutputFolderIsRefused() throws {
        // /proc refuses new files even to root, unlike a chmod'ed folder.
        let result = try NFXExecutable.run(["simulate", "matrix", "-o", "/proc/nfx-test-output.h5"])
        assertError(result, code: 73, command: "nfx simulate", mentions: "cannot write in /proc")
    }

    func testBadOptionValuesAreUsageErrors() throws {
        assertError(try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5"), "--rank", "0"]),
                    code: 64, command: "nfx simulate", mentions: "--rank")
        assertError(try NFXExecutable.run(["simulate", "matrix", "--no-such-flag"]),
                    code: 64, command: "nfx simulate", mentions: "--no-such-flag")
        assertError(try NFXExecutable.run(["simulate", "rnn", "-o", path("r.h5"), "--activation", "tanh"]),
                    code: 64, command: "nfx simulate", mentions: "--activation")
        assertError(try NFXExecutable.run(["simulate", "calcium", "-o", path("c.h5"), "--tau", "fast"]),
                    code: 64, command: "nfx simulate", mentions: "--tau")
        XCTAssertEqual(try contents(), [], "a refused command leaves nothing behind")
    }

    func testInterruptWhileWritingLeavesNoFileAndNoTemporary() throws {
        // Big enough that writing (gzip of ~300 MB) takes seconds, so the signal lands mid-write.
        let (process, out, err) = try NFXExecutable.start(
            ["simulate", "matrix", "-o", path("big.h5"), "--units", "8000", "--time", "5000", "--rank", "5"])
        let deadline = Date().addingTimeInterval(120)
        var sawPartialFile = false
        while Date() < deadline && process.isRunning {
            let temporaries = try contents().filter { $0.hasPrefix(".big.h5.tmp-") }
            if let temporary = temporaries.first,
               let size = try? FileManager.default.attributesOfItem(atPath: path(temporary))[.size] as? NSNumber,
               size.intValue > 1 << 20 {
                sawPartialFile = true
                break
            }
            usleep(20_000)
        }
        XCTAssertTrue(sawPartialFile, "the write finished before it could be interrupted; make it bigger")
        process.interrupt()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("interrupted"), stderr)
        XCTAssertEqual(try contents(), [], "neither the output nor its temporary may remain")
    }
}

/// Inputs and flags found by review to crash or mislead.
final class ReviewedEdgeCaseTests: CommandTestCase {
    func testSeedAboveInt64IsAUsageError() throws {
        assertError(try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5"), "--seed", "18446744073709551615"]),
                    code: 64, command: "nfx simulate", mentions: "--seed")
        XCTAssertEqual(try contents(), [])
    }

    func testOutputNamingAFolderIsRefusedBeforeWork() throws {
        assertError(try NFXExecutable.run(["simulate", "matrix", "-o", path("sub") + "/"]),
                    code: 64, command: "nfx simulate", mentions: "must name a file")
    }

    func testAbsurdDurationsAreRefusedNotTrapped() throws {
        let result = try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--refractory-period", "1e300"])
        XCTAssertEqual(result.status, 64, result.stderr)
        let huge = try NFXExecutable.run(["simulate", "matrix", "-o", path("m.h5"), "--units", "100000",
                                          "--time", "100000"])
        XCTAssertEqual(huge.status, 64, huge.stderr)
        XCTAssertEqual(try contents(), [], "no temporary file may remain")
    }

    func testRiseTimeWithoutAROrderTwoIsAUsageError() throws {
        assertError(try NFXExecutable.run(["simulate", "calcium", "-o", path("c.h5"), "--tau", "0.5,0.05"]),
                    code: 64, command: "nfx simulate", mentions: "--ar-order 2")
    }

    func testTruncatedNPYHeaderIsAnIOError() throws {
        FileManager.default.createFile(atPath: path("cut.npy"), contents: Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1]))
        assertError(try NFXExecutable.run(["info", path("cut.npy")]), code: 74, command: "nfx info", mentions: "truncated")
    }
}
