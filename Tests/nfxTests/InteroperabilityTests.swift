import Foundation
import XCTest
import HDF5Kit

/// Files nfx writes must be readable by HDF5's own tools (h5dump, from hdf5-tools, which `make test` installs).
final class InteroperabilityTests: CommandTestCase {
    private func h5dump(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/h5dump")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "h5dump \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }

    /// The numbers between `DATA {` and the closing brace of `h5dump -y -w 0 -m %.17g` output.
    private func values(in dump: String) -> [Double] {
        guard let start = dump.range(of: "DATA {") else { return [] }
        let body = dump[start.upperBound...].prefix { $0 != "}" }
        return body.split(whereSeparator: { ", \n".contains($0) }).compactMap { Double($0) }
    }

    func testH5dumpReadsEveryDatasetWithTheSameValues() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/h5dump") else {
            throw XCTSkip("h5dump is not installed (make test installs hdf5-tools)")
        }
        XCTAssertEqual(try NFXExecutable.run(["simulate", "ephys", "-o", path("e.h5"), "--duration", "0.5",
                                              "--quiet"]).status, 0)
        let file = try HDF5File.open(path("e.h5"))
        for name in ["/data", "/truth/spike_times", "/truth/spike_labels", "/truth/waveforms"] {
            let dumped = values(in: try h5dump(["-y", "-w", "0", "-m", "%.17g", "-d", name, path("e.h5")]))
            let ours = try file.dataset(name).read(as: Double.self).elements
            XCTAssertEqual(dumped.count, ours.count, name)
            XCTAssertEqual(dumped, ours, name)
        }
        let header = try h5dump(["-A", path("e.h5")])
        XCTAssertTrue(header.contains("\"nfx_command\""), header)
        XCTAssertTrue(header.contains("H5T_CSET_UTF8"), "string attributes are UTF-8")
    }
}
