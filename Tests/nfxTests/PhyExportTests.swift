import Foundation
import LinearAlgebra
import NFXCore
import NFXIO
import SparseCoding
import XCTest
@testable import nfx
@testable import SpikeSorting

/// `PhyExport` writes the folder phy's template GUI opens; these read every file back as phylib would.
final class PhyExportTests: CommandTestCase {
    // 3 channels, waveforms of 6 samples, 2 units with troughs at 2 and 3, 4 spikes in 40 samples.
    private let channels = 3, length = 6, samples = 40
    private let troughs = [2, 3]

    private func sorting(units: Int = 2, times: [Int64] = [5, 9, 20, 31], labels: [Int32] = [0, 1, 0, 1]) -> SpikeSortingResult {
        var spikes = SortedSpikes()
        spikes.times = times
        spikes.labels = labels
        spikes.amplitudes = times.indices.map { 4 + Double($0) / 4 }
        // Distinct, recognisable values: unit u, channel c, sample t → u·100 + c·10 + t (first unit negated).
        var templates: [Double] = []
        for unit in 0..<units {
            for channel in 0..<channels {
                for t in 0..<length {
                    let magnitude = Double(unit * 100 + channel * 10 + t + 1)
                    templates.append(unit == 0 ? -magnitude : magnitude)
                }
            }
        }
        let dictionary = ConvolutionalDictionary(filters: units, channels: channels, length: length,
                                                 weights: [Double](repeating: 0.1, count: units * channels * length))
        return SpikeSortingResult(spikes: spikes, dictionary: dictionary, templates: templates,
                                  troughs: Array(troughs.prefix(units)), noiseLevels: [1, 1, 1], quality: [],
                                  discovery: [])
    }

    private var values: [Double] { (0..<(channels * samples)).map { Double($0 % 17) - 8.5 + Double($0 / samples) * 0.25 } }

    private func recording(whitening: SpatialWhitening? = nil) -> PhyExport.Recording {
        PhyExport.Recording(values: values, channels: channels, samples: samples, whitening: whitening)
    }

    private func read(_ name: String, in folder: URL) throws -> (array: NDArray<Double>, header: NPY.Header) {
        try NPY.read(contentsOf: folder.appendingPathComponent(name))
    }

    private func assertKind(_ kind: NFXError.Kind, mentions text: String, file: StaticString = #filePath,
                            line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? NFXError else { return XCTFail("not an NFXError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(text), "'\(error.message)' lacks '\(text)'", file: file, line: line)
        }
    }

    func testWritesEveryFilePhyReadsWithItsDtypeAndShape() throws {
        let result = sorting()
        let out = folder.appendingPathComponent("phy")
        try PhyExport.write(result, recording: recording(), to: out, samplingRate: 10_000)

        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(), [
            "amplitudes.npy", "channel_map.npy", "channel_positions.npy", "params.py", "recording.dat",
            "similar_templates.npy", "spike_clusters.npy", "spike_templates.npy", "spike_times.npy", "templates.npy",
            "whitening_mat.npy", "whitening_mat_inv.npy",
        ])
        XCTAssertEqual(try contents(), ["phy"], "no temporary folder is left beside the export")

        let times = try read("spike_times.npy", in: out)
        XCTAssertEqual(times.header.elementType, .int64)
        XCTAssertEqual(times.array.shape, [4])
        XCTAssertEqual(times.array.elements, [5, 9, 20, 31])
        for name in ["spike_templates.npy", "spike_clusters.npy"] {
            let labels = try read(name, in: out)
            XCTAssertEqual(labels.header.elementType, .int32, name)
            XCTAssertEqual(labels.array.shape, [4], name)
            XCTAssertEqual(labels.array.elements, [0, 1, 0, 1], name)
        }
        let amplitudes = try read("amplitudes.npy", in: out)
        XCTAssertEqual(amplitudes.header.elementType, .float64)
        XCTAssertEqual(amplitudes.array.elements, result.spikes.amplitudes)

        // Troughs at 2 and 3 of 6 samples: the window is 2 × max(3, 6 − 2) = 8 with the trough at 4.
        let templates = try read("templates.npy", in: out)
        XCTAssertEqual(templates.header.elementType, .float32)
        XCTAssertEqual(templates.array.shape, [2, 8, channels])
        for unit in 0..<2 {
            let offset = 4 - troughs[unit]
            for t in 0..<8 {
                for channel in 0..<channels {
                    let inside = (offset..<(offset + length)).contains(t)
                    let expected = inside ? result.templates[(unit * channels + channel) * length + t - offset] : 0
                    XCTAssertEqual(templates.array[unit, t, channel], expected, "unit \(unit), t \(t), channel \(channel)")
                }
            }
        }
        let similar = try read("similar_templates.npy", in: out)
        XCTAssertEqual(similar.header.elementType, .float32)
        XCTAssertEqual(similar.array.shape, [2, 2])
        XCTAssertEqual(similar.array[0, 0], 1)
        XCTAssertEqual(similar.array[1, 1], 1)
        XCTAssertEqual(similar.array[0, 1], similar.array[1, 0])
        XCTAssertEqual(similar.array[0, 1], 0, "opposite-signed templates are not similar")

        let map = try read("channel_map.npy", in: out)
        XCTAssertEqual(map.header.elementType, .int32)
        XCTAssertEqual(map.array.elements, [0, 1, 2])
        let positions = try read("channel_positions.npy", in: out)
        XCTAssertEqual(positions.header.elementType, .float32)
        XCTAssertEqual(positions.array.shape, [channels, 2])
        XCTAssertEqual(positions.array.elements, [0, 0, 0, 20, 0, 40])
        for name in ["whitening_mat.npy", "whitening_mat_inv.npy"] {
            let matrix = try read(name, in: out)
            XCTAssertEqual(matrix.header.elementType, .float64, name)
            XCTAssertEqual(matrix.array.elements, Matrix.identity(channels).elements, name)
        }
        for name in ["spike_times.npy", "templates.npy", "channel_positions.npy"] {
            let header = try read(name, in: out).header
            XCTAssertFalse(header.fortranOrder || header.bigEndian, name)
            XCTAssertEqual(header.dataOffset % 64, 0, name)
        }

        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("params.py"), encoding: .utf8), """
            dat_path = 'recording.dat'
            n_channels_dat = 3
            dtype = 'float32'
            offset = 0
            sample_rate = 10000.0
            hp_filtered = True

            """)
        // Time-major float32: sample t of channel c at t · channels + c.
        let data = try Data(contentsOf: out.appendingPathComponent("recording.dat"))
        XCTAssertEqual(data.count, channels * samples * 4)
        let traces = data.withUnsafeBytes { raw in (0..<(channels * samples)).map { raw.load(fromByteOffset: $0 * 4, as: Float.self) } }
        for t in 0..<samples {
            for channel in 0..<channels { XCTAssertEqual(traces[t * channels + channel], Float(values[channel * samples + t])) }
        }
    }

    func testWhitenedRecordingIsWrittenUnwhitenedAndTemplatesWhitened() throws {
        let raw = values
        let whitening = try SpatialWhitening(fitting: raw, channels: channels, samples: samples)
        let whitened = PhyExport.Recording(values: try whitening.applied(to: raw, channels: channels, samples: samples),
                                           channels: channels, samples: samples, whitening: whitening)
        let result = sorting()
        let out = folder.appendingPathComponent("phy")
        try PhyExport.write(result, recording: whitened, to: out, samplingRate: 30_000)

        let data = try Data(contentsOf: out.appendingPathComponent("recording.dat"))
        let traces = data.withUnsafeBytes { bytes in (0..<(channels * samples)).map { bytes.load(fromByteOffset: $0 * 4, as: Float.self) } }
        for t in 0..<samples {
            for channel in 0..<channels {
                XCTAssertEqual(Double(traces[t * channels + channel]), raw[channel * samples + t], accuracy: 1e-4)
            }
        }
        // phy shows templates[i] @ whitening_mat_inv: that must give back the un-whitened templates.
        let templates = try read("templates.npy", in: out).array
        let inverse = try read("whitening_mat_inv.npy", in: out).array
        let forward = try read("whitening_mat.npy", in: out).array
        let product = try multiply(Matrix(forward), Matrix(inverse))
        for (value, expected) in zip(product.elements, Matrix.identity(channels).elements) {
            XCTAssertEqual(value, expected, accuracy: 1e-9)
        }
        for unit in 0..<2 {
            let offset = 4 - troughs[unit]
            for t in 0..<length {
                for channel in 0..<channels {
                    let shown = (0..<channels).reduce(0.0) { $0 + templates[unit, offset + t, $1] * inverse[$1, channel] }
                    let expected = result.templates[(unit * channels + channel) * length + t]
                    XCTAssertEqual(shown, expected, accuracy: 1e-4 * max(1, abs(expected)))
                }
            }
        }
    }

    func testOneUnitOverSeveralChannelsGetsAnUnusedZeroTemplate() throws {
        let out = folder.appendingPathComponent("phy")
        try PhyExport.write(sorting(units: 1, times: [3, 30], labels: [0, 0]), recording: nil, to: out,
                            samplingRate: 20_000, channelPositions: [[0, 0], [16, 20], [-16, 40]],
                            highPassFiltered: false)
        let templates = try read("templates.npy", in: out).array
        XCTAssertEqual(templates.shape, [2, 8, channels], "(1, 8, 3) would be squeezed to 8 templates by phylib")
        XCTAssertTrue(templates.elements[(8 * channels)...].allSatisfy { $0 == 0 })
        XCTAssertEqual(try read("similar_templates.npy", in: out).array.elements, [1, 0, 0, 0])
        XCTAssertEqual(try read("channel_positions.npy", in: out).array.elements, [0, 0, 16, 20, -16, 40])
        let parameters = try String(contentsOf: out.appendingPathComponent("params.py"), encoding: .utf8)
        XCTAssertTrue(parameters.hasPrefix("dat_path = []\n"), parameters)
        XCTAssertTrue(parameters.contains("\nhp_filtered = False\n"), parameters)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("recording.dat").path))
    }

    func testExistingFolderIsRefusedWithoutForceAndReplacedWithIt() throws {
        let out = folder.appendingPathComponent("phy")
        try PhyExport.write(sorting(), recording: recording(), to: out, samplingRate: 10_000)
        // phy adds its own files; a second export with --force replaces them all.
        try "cluster_id\tgroup\n0\tgood\n".write(to: out.appendingPathComponent("cluster_group.tsv"), atomically: true,
                                                  encoding: .utf8)
        assertKind(.cannotCreate, mentions: "already exists") {
            try PhyExport.write(sorting(), recording: recording(), to: out, samplingRate: 10_000)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("cluster_group.tsv").path))

        try PhyExport.write(sorting(), recording: nil, to: out, samplingRate: 10_000, force: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path)
        XCTAssertFalse(files.contains("cluster_group.tsv"))
        XCTAssertFalse(files.contains("recording.dat"))
        XCTAssertEqual(try contents(), ["phy"], "neither the temporary nor the replaced folder is left behind")
    }

    func testForceRefusesFoldersThatAreNotExportsAndFoldersHoldingTheInput() throws {
        let other = folder.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try "keep".write(to: other.appendingPathComponent("todo.txt"), atomically: true, encoding: .utf8)
        assertKind(.cannotCreate, mentions: "not a phy folder") {
            try PhyExport.write(sorting(), recording: nil, to: other, samplingRate: 10_000, force: true)
        }
        let out = folder.appendingPathComponent("phy")
        try PhyExport.write(sorting(), recording: nil, to: out, samplingRate: 10_000)
        let input = out.appendingPathComponent("data.h5").path
        try "input".write(toFile: input, atomically: true, encoding: .utf8)
        assertKind(.usage, mentions: "inside the phy output folder") {
            try PhyExport.write(sorting(), recording: nil, to: out, samplingRate: 10_000, force: true, inputs: [input])
        }
        XCTAssertEqual(try String(contentsOfFile: input, encoding: .utf8), "input")
        XCTAssertEqual(try String(contentsOf: other.appendingPathComponent("todo.txt"), encoding: .utf8), "keep")
    }

    func testBadDestinationsAndInputsLeaveNothingBehind() throws {
        assertKind(.cannotCreate, mentions: "does not exist") {
            try PhyExport.write(sorting(), recording: nil, to: folder.appendingPathComponent("no/such/phy"),
                                samplingRate: 10_000)
        }
        try "file".write(toFile: path("plain"), atomically: true, encoding: .utf8)
        assertKind(.cannotCreate, mentions: "is not a folder") {
            try PhyExport.write(sorting(), recording: nil, to: folder.appendingPathComponent("plain"),
                                samplingRate: 10_000, force: true)
        }
        let out = folder.appendingPathComponent("phy")
        assertKind(.data, mentions: "1 spike;") {
            try PhyExport.write(sorting(times: [4], labels: [1]), recording: nil, to: out, samplingRate: 10_000)
        }
        assertKind(.data, mentions: "same position") {
            try PhyExport.write(sorting(), recording: nil, to: out, samplingRate: 10_000,
                                channelPositions: [[0, 0], [0, 20], [0, 20]])
        }
        assertKind(.data, mentions: "give 2 channels") {
            try PhyExport.write(sorting(), recording: nil, to: out, samplingRate: 10_000, channelPositions: [[0, 0], [0, 1]])
        }
        assertKind(.usage, mentions: "data file name") {
            try PhyExport.write(sorting(), recording: recording(), to: out, samplingRate: 10_000,
                                dataFileName: "../escape.dat")
        }
        assertKind(.internal, mentions: "label") {
            try PhyExport.write(sorting(labels: [0, 1, 2, 0]), recording: nil, to: out, samplingRate: 10_000)
        }
        assertKind(.cannotCreate, mentions: "cannot write in /proc") {
            try PhyExport.write(sorting(), recording: nil, to: URL(fileURLWithPath: "/proc/nfx-phy-test"),
                                samplingRate: 10_000)
        }
        XCTAssertEqual(try contents(), ["plain"])
    }

    /// The files as numpy (and phylib, which `squeeze()`s every array it loads) sees them; skipped without the
    /// benchmark virtualenv, which a user's clone does not have.
    func testNumpyLoadsEveryFileWithPhylibsShapes() throws {
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".bench-venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw XCTSkip("no \(python.path) with numpy (make bench-venv creates it)")
        }
        let out = folder.appendingPathComponent("phy")
        try PhyExport.write(sorting(), recording: recording(), to: out, samplingRate: 10_000)
        let script = """
            import sys, numpy as np
            from pathlib import Path
            d = Path(sys.argv[1])
            expected = {
                'spike_times.npy': ('int64', (4,)), 'spike_templates.npy': ('int32', (4,)),
                'spike_clusters.npy': ('int32', (4,)), 'amplitudes.npy': ('float64', (4,)),
                'templates.npy': ('float32', (2, 8, 3)), 'similar_templates.npy': ('float32', (2, 2)),
                'channel_map.npy': ('int32', (3,)), 'channel_positions.npy': ('float32', (3, 2)),
                'whitening_mat.npy': ('float64', (3, 3)), 'whitening_mat_inv.npy': ('float64', (3, 3)),
            }
            for name, (dtype, shape) in expected.items():
                a = np.load(d / name)
                assert (str(a.dtype), a.shape) == (dtype, shape), (name, a.dtype, a.shape)
                assert a.squeeze().shape == shape, name
            assert np.array_equal(np.load(d / 'spike_times.npy'), [5, 9, 20, 31])
            assert np.all(np.diff(np.load(d / 'spike_times.npy')) >= 0)
            p = {}
            exec((d / 'params.py').read_text(), {}, p)
            assert p == {'dat_path': 'recording.dat', 'n_channels_dat': 3, 'dtype': 'float32', 'offset': 0,
                         'sample_rate': 10000.0, 'hp_filtered': True}, p
            traces = np.memmap(d / p['dat_path'], dtype=np.dtype(p['dtype']), mode='r').reshape(-1, p['n_channels_dat'])
            assert traces.shape == (40, 3), traces.shape
            print('ok')
            """
        let process = Process()
        process.executableURL = python
        process.arguments = ["-c", script, out.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, printed)
        XCTAssertEqual(printed, "ok\n")
    }
}
