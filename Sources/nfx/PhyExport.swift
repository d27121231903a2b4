import Foundation
import LinearAlgebra
import NFXCore
import NFXIO
import SpikeSorting

/// Writes a sorting as the folder phy's template GUI opens (`phy template-gui DIR/params.py`): the files Kilosort
/// writes, read as phylib's `TemplateModel` reads them (github.com/cortex-lab/phylib, phylib/io/model.py).
///
/// What phylib needs, and how it reads it:
/// - Required: `spike_times.npy` (samples, non-decreasing), `spike_templates.npy` (uint16/uint32/int32/int64),
///   `channel_map.npy` (uint32/int32/int64), `channel_positions.npy` (n_channels × 2, all rows distinct — else it
///   replaces them by a line) and `params.py`. Optional, written here because they matter: `spike_clusters.npy`
///   (phy copies the templates file when it is missing, and rewrites it as the user merges and splits),
///   `amplitudes.npy`, `templates.npy` (n_templates × n_samples × n_channels, float32/float64; without it phy shows
///   no templates), `whitening_mat.npy`, `whitening_mat_inv.npy` (phy inverts the first and *writes* the second into
///   the folder when it is missing) and `similar_templates.npy` (zeros when missing, which leaves the "similar
///   clusters" list unordered). `pc_features.npy` and `template_features.npy` are optional and not written: phy then
///   has no feature views.
/// - phylib `squeeze()`s every array it reads, so the shape (n,) or (n, 1) of spike_times makes no difference, but a
///   length-1 axis vanishes: one spike makes `spike_times` a scalar (phy fails), and one template over several
///   channels turns templates.npy into n_samples templates. The first is refused; for the second a zero template is
///   added that no spike uses.
/// - phy cuts a spike's waveform from the raw data with the spike's sample at index n_samples // 2
///   (phylib/io/traces.py, `_extract_waveform`), so templates are written with their trough there.
/// - phy shows templates un-whitened, as `templates[i] @ whitening_mat_inv` (time × channels): templates.npy holds
///   them in the sorter's whitened space, as Kilosort's do, and whitening_mat_inv takes them back.
/// - The raw traces come from a flat binary file (`.dat`, `.bin`, `.raw`), samples × channels interleaved, of the
///   `dtype` in params.py; float32 keeps the filtered recording exact to 7 digits without choosing an int16 scale.
///   Its path in params.py may be relative to the folder, which keeps the folder movable.
enum PhyExport {
    /// The recording phy shows traces from and cuts waveforms out of.
    struct Recording {
        /// Samples `range` of every channel, channels × range.count row-major: the sorter's input (band-passed,
        /// referenced, whitened if `whitening`), read a block at a time so a long recording is never held whole.
        var read: (Range<Int>) throws -> [Double]
        var channels: Int
        var samples: Int
        /// The whitening the values went through, if any. The data file gets the recording un-whitened (W⁻¹
        /// applied), in the input's units like the templates phy displays.
        var whitening: SpatialWhitening?

        init(channels: Int, samples: Int, whitening: SpatialWhitening?, read: @escaping (Range<Int>) throws -> [Double]) {
            (self.channels, self.samples, self.whitening, self.read) = (channels, samples, whitening, read)
        }

        /// A recording held in memory (channels × samples).
        init(values: [Double], channels: Int, samples: Int, whitening: SpatialWhitening?) {
            self.init(channels: channels, samples: samples, whitening: whitening) { range in
                (0..<channels).flatMap { k in values[(k * samples + range.lowerBound)..<(k * samples + range.upperBound)] }
            }
        }
    }

    static let defaultDataFileName = "recording.dat"
    /// Channel spacing of the stand-in probe geometry when none is given: a single vertical column, 20 µm apart
    /// (a typical silicon-probe pitch), so phy's probe view and its nearest-channel choices still work.
    static let defaultChannelPitch = 20.0

    /// Checks, before a long sort, that `directory` can be written: its parent exists, and it is absent — or, with
    /// `force`, a folder that an export could have written (empty, or holding params.py) and that holds no input.
    /// - Throws: `NFXError` `.usage` for a name that is not a folder's or an input inside it, `.cannotCreate` otherwise.
    static func checkDestination(_ directory: URL, force: Bool, inputs: [String] = []) throws {
        let target = directory.standardizedFileURL
        let name = target.lastPathComponent
        guard !name.isEmpty, name != "/", name != ".", name != ".." else {
            throw NFXError.usage("--phy must name a folder to create, got '\(directory.path)'")
        }
        let path = target.path
        let parent = target.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NFXError.cannotCreate("cannot write \(path): the folder \(parent) does not exist",
                                        hint: "create it first (mkdir -p \(parent))")
        }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw NFXError.cannotCreate("the phy output \(path) exists and is not a folder",
                                        hint: "choose another folder with --phy")
        }
        guard force else {
            throw NFXError.cannotCreate("the phy output folder \(path) already exists", hint: "pass --force to replace it")
        }
        // --force replaces the whole folder, so it must be one an export wrote (phy adds its own files to it).
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard contents.isEmpty || contents.contains("params.py") else {
            throw NFXError.cannotCreate("\(path) is not a phy folder (it has files but no params.py); nfx replaces "
                                        + "only folders it could have written", hint: "choose another folder with --phy")
        }
        let resolvedTarget = target.resolvingSymlinksInPath().path + "/"
        for input in inputs
        where URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path.hasPrefix(resolvedTarget) {
            throw NFXError.usage("the input \(input) is inside the phy output folder \(path), which --force would "
                                 + "delete", hint: "choose another folder with --phy")
        }
    }

    /// Writes `result` into the folder `directory` for phy, all-or-nothing: the files go into a hidden temporary
    /// folder beside it, which is renamed into place once complete (with `force`, replacing an existing export).
    ///
    /// - Parameters:
    ///   - result: the sorting; its templates in the input's units (un-whitened), as `nfx spikesort` leaves them.
    ///   - recording: the traces to show; nil writes no data file (phy then opens without trace and waveform views).
    ///   - samplingRate: in Hz.
    ///   - channelPositions: one (x, y) in µm per channel; nil: a vertical line `defaultChannelPitch` apart.
    ///   - dataFileName: the data file's name inside `directory`; phylib picks its reader by the extension.
    ///   - highPassFiltered: params.py's `hp_filtered`, whether the recording was band- or high-passed. Kilosort
    ///     writes the key; phy keeps it but filters the traces it shows with its own high-pass either way.
    ///   - inputs: files that must not be inside `directory` when `force` replaces it.
    /// - Throws: `NFXError`: `.usage` for a bad folder or file name or sampling rate, `.data` for bad channel
    ///   positions or fewer than two spikes, `.cannotCreate` when the folder exists (without `force`) or cannot be
    ///   created, `.io` when writing fails, `.internal` when `result` contradicts itself.
    static func write(_ result: SpikeSortingResult, recording: Recording?, to directory: URL, samplingRate: Double,
                      channelPositions: [[Double]]? = nil, dataFileName: String = defaultDataFileName,
                      highPassFiltered: Bool = true, force: Bool = false, inputs: [String] = []) throws {
        try checkDestination(directory, force: force, inputs: inputs)
        let files = try PhyFiles(result, recording: recording, samplingRate: samplingRate,
                                 channelPositions: channelPositions, dataFileName: dataFileName,
                                 highPassFiltered: highPassFiltered)
        let target = directory.standardizedFileURL
        let folder = try TemporaryFolder(beside: target)
        do {
            for (name, data) in files.arrays { try folder.writeFile(name, data, shownAs: target.path) }
            try folder.writeFile("params.py", Data(files.parameters.utf8), shownAs: target.path)
            if let recording {
                try folder.writeFile(dataFileName, shownAs: target.path) { file in
                    try writeTraces(recording, to: file)
                }
            }
            try folder.move(to: target, replacing: force)
        } catch {
            folder.discard()
            throw error
        }
    }

    /// The recording as time-major float32, un-whitened, a block of samples at a time (the whole recording may not
    /// fit in memory twice).
    private static func writeTraces(_ recording: Recording, to file: OutputFile) throws {
        let (channels, samples) = (recording.channels, recording.samples)
        let blockLength = max(1, min(samples, (1 << 20) / channels))
        var block = [Double](repeating: 0, count: blockLength * channels)
        var converted = [Float](repeating: 0, count: blockLength * channels)
        var start = 0
        while start < samples {
            let length = min(blockLength, samples - start)
            let values = try recording.read(start..<(start + length))
            if let whitening = recording.whitening {
                // block (length × channels) = valuesᵀ · (W⁻¹)ᵀ, i.e. W⁻¹ applied to each sample.
                try whitening.inverse.elements.withUnsafeBufferPointer { inverse in
                    try values.withUnsafeBufferPointer { values in
                        try block.withUnsafeMutableBufferPointer { out in
                            try gemm(transposeA: true, transposeB: true, rows: length, columns: channels,
                                     inner: channels, alpha: 1, values.baseAddress!, leadingDimensionA: length,
                                     inverse.baseAddress!, leadingDimensionB: channels, beta: 0, out.baseAddress!,
                                     leadingDimensionC: channels)
                        }
                    }
                }
            } else {
                for channel in 0..<channels {
                    for t in 0..<length { block[t * channels + channel] = values[channel * length + t] }
                }
            }
            for i in 0..<(length * channels) { converted[i] = Float(block[i]) }
            let byteCount = length * channels * MemoryLayout<Float>.size
            try converted.withUnsafeBytes { bytes in try file.write(UnsafeRawBufferPointer(rebasing: bytes[..<byteCount])) }
            start += length
        }
    }
}

// MARK: - The folder's contents

/// Every .npy and params.py of an export, checked and encoded.
private struct PhyFiles {
    var arrays: [(name: String, data: Data)] = []
    var parameters = ""

    init(_ result: SpikeSortingResult, recording: PhyExport.Recording?, samplingRate: Double,
         channelPositions: [[Double]]?, dataFileName: String, highPassFiltered: Bool) throws {
        guard samplingRate > 0 && samplingRate.isFinite else {
            throw NFXError.usage("the sampling rate must be positive, got \(samplingRate)")
        }
        try Self.checkDataFileName(dataFileName)
        let spikes = result.spikes
        let channels = result.dictionary.channels
        let length = result.dictionary.length
        let units = result.troughs.count
        try Self.checkConsistency(result, channels: channels, length: length, units: units, recording: recording)
        guard spikes.count >= 2 else {
            throw NFXError.data("the sorting has \(spikes.count) spike\(spikes.count == 1 ? "" : "s"); phy needs at "
                                + "least 2 to open a folder", hint: "lower --threshold or sort a longer recording")
        }
        let positions = try Self.positions(channelPositions, channels: channels)

        // Templates: whitened (the sorter's space) when the recording was, trough at the centre of the window.
        let whitening = recording?.whitening
        var templates = result.templates
        if let whitening {
            templates = SpatialWhitening.mixingChannels(whitening.matrix, of: templates, count: units, length: length)
        }
        let halfWindow = max(result.troughs.max() ?? 0, result.troughs.map { length - $0 }.max() ?? length)
        let window = 2 * halfWindow
        // One template over several channels would be squeezed into n_samples templates by phylib.
        let templateCount = units == 1 && channels > 1 ? 2 : units
        var centred = [Double](repeating: 0, count: templateCount * window * channels)
        for unit in 0..<units {
            let offset = halfWindow - result.troughs[unit]
            for channel in 0..<channels {
                for t in 0..<length {
                    centred[(unit * window + offset + t) * channels + channel] =
                        templates[(unit * channels + channel) * length + t]
                }
            }
        }
        let similarity = Self.similarity(centred, templates: templateCount, window: window, channels: channels,
                                         maximumLag: length / 2)

        let identity = Matrix.identity(channels)
        // phy multiplies time × channels templates on the right: the transposes of the column-vector W and W⁻¹.
        let whiteningRows = whitening?.matrix.transposed ?? identity
        let unwhiteningRows = whitening?.inverse.transposed ?? identity
        let n = spikes.count
        arrays = [
            ("spike_times.npy", NPY.encode(NDArray(shape: [n], elements: spikes.times))),
            ("spike_templates.npy", NPY.encode(NDArray(shape: [n], elements: spikes.labels))),
            ("spike_clusters.npy", NPY.encode(NDArray(shape: [n], elements: spikes.labels))),
            ("amplitudes.npy", NPY.encode(NDArray(shape: [n], elements: spikes.amplitudes))),
            ("templates.npy", NPY.encode(NDArray(shape: [templateCount, window, channels],
                                                 elements: centred.map(Float.init)))),
            ("similar_templates.npy", NPY.encode(NDArray(shape: [templateCount, templateCount],
                                                         elements: similarity.map(Float.init)))),
            ("channel_map.npy", NPY.encode(NDArray(shape: [channels], elements: (0..<Int32(channels)).map { $0 }))),
            ("channel_positions.npy", NPY.encode(NDArray(shape: [channels, 2], elements: positions.map(Float.init)))),
            ("whitening_mat.npy", NPY.encode(whiteningRows.ndarray)),
            ("whitening_mat_inv.npy", NPY.encode(unwhiteningRows.ndarray)),
        ]
        // Read by phylib as Python (`read_python`); a relative dat_path is taken relative to this file's folder.
        parameters = """
            dat_path = \(recording == nil ? "[]" : "'\(dataFileName)'")
            n_channels_dat = \(channels)
            dtype = 'float32'
            offset = 0
            sample_rate = \(samplingRate)
            hp_filtered = \(highPassFiltered ? "True" : "False")

            """
    }

    /// A plain file name phylib reads as a flat binary and params.py can quote without escaping.
    private static func checkDataFileName(_ name: String) throws {
        let extensions = [".dat", ".bin", ".raw"]
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy({ !"/\\'\"\n\r".contains($0) }),
              extensions.contains(where: { name.hasSuffix($0) && name.count > $0.count })
        else {
            throw NFXError.usage("the phy data file name must be a plain file name ending in .dat, .bin or .raw, "
                                 + "got '\(name)'")
        }
    }

    private static func checkConsistency(_ result: SpikeSortingResult, channels: Int, length: Int, units: Int,
                                         recording: PhyExport.Recording?) throws {
        let spikes = result.spikes
        func bug(_ what: String) -> NFXError {
            NFXError(.internal, "phy export: \(what)",
                     hint: "this is a bug in nfx; please report it with the command line")
        }
        guard channels > 0, length > 0 else { throw bug("\(channels) channels of \(length) samples") }
        guard result.templates.count == units * channels * length else {
            throw bug("\(result.templates.count) template values for \(units) units × \(channels) × \(length)")
        }
        guard result.troughs.allSatisfy({ (0..<length).contains($0) }) else {
            throw bug("a trough outside its template")
        }
        guard spikes.labels.count == spikes.count, spikes.amplitudes.count == spikes.count else {
            throw bug("\(spikes.count) spike times, \(spikes.labels.count) labels, "
                      + "\(spikes.amplitudes.count) amplitudes")
        }
        guard spikes.labels.allSatisfy({ $0 >= 0 && Int($0) < units }) else {
            throw bug("a spike label outside 0..<\(units)")
        }
        // phylib refuses decreasing spike times ("The spike times must be increasing").
        guard spikes.times.first.map({ $0 >= 0 }) ?? true,
              zip(spikes.times, spikes.times.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw bug("spike times are negative or not in order") }
        if let recording {
            guard recording.channels == channels, recording.samples > 0 else {
                throw bug("a recording of \(recording.channels) × \(recording.samples) for a sorting of \(channels) channels")
            }
            guard (spikes.times.last ?? 0) < Int64(recording.samples) else {
                throw bug("a spike after the recording's end")
            }
            if let whitening = recording.whitening, whitening.channels != channels {
                throw bug("a whitening of \(whitening.channels) channels for \(channels)")
            }
        }
    }

    /// Rows of (x, y), flattened; checked because they come from the user.
    private static func positions(_ given: [[Double]]?, channels: Int) throws -> [Double] {
        guard let given else { return (0..<channels).flatMap { [0, Double($0) * PhyExport.defaultChannelPitch] } }
        guard given.count == channels else {
            throw NFXError.data("the channel positions give \(given.count) channels; the recording has \(channels)")
        }
        guard let bad = given.firstIndex(where: { $0.count != 2 || !$0.allSatisfy(\.isFinite) }) else {
            // phylib silently replaces positions with duplicates by a line, which would misplace every channel.
            var seen: [[Double]: Int] = [:]
            for (channel, position) in given.enumerated() {
                if let first = seen.updateValue(channel, forKey: position) {
                    throw NFXError.data("channels \(first) and \(channel) have the same position (\(position[0]), "
                                        + "\(position[1])); phy needs distinct positions")
                }
            }
            return given.flatMap { $0 }
        }
        throw NFXError.data("the position of channel \(bad) must be two finite numbers (x, y), got \(given[bad])")
    }

    /// Kilosort's similar_templates: the normalised cross-correlation of two templates (window × channels each),
    /// summed over channels and maximised over shifts up to `maximumLag` around trough alignment; 1 on the
    /// diagonal, 0 for a zero template.
    private static func similarity(_ templates: [Double], templates count: Int, window: Int, channels: Int,
                                   maximumLag: Int) -> [Double] {
        let size = window * channels
        let norms = (0..<count).map { unit in
            templates[(unit * size)..<((unit + 1) * size)].reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
        var result = [Double](repeating: 0, count: count * count)
        templates.withUnsafeBufferPointer { values in
            for a in 0..<count where norms[a] > 0 {
                result[a * count + a] = 1
                for b in (a + 1)..<count where norms[b] > 0 {
                    var best = -Double.infinity
                    for lag in -maximumLag...maximumLag {
                        // Σ_t Σ_c a[t, c] · b[t + lag, c] over the overlap.
                        let first = max(0, -lag), last = min(window, window - lag)
                        guard first < last else { continue }
                        var sum = 0.0
                        let baseA = values.baseAddress! + a * size + first * channels
                        let baseB = values.baseAddress! + b * size + (first + lag) * channels
                        for i in 0..<((last - first) * channels) { sum += baseA[i] * baseB[i] }
                        best = max(best, sum)
                    }
                    let value = max(0, best / (norms[a] * norms[b]))
                    result[a * count + b] = value
                    result[b * count + a] = value
                }
            }
        }
        return result
    }
}

// MARK: - Writing without leaving partial output

/// A file created exclusively, written with POSIX calls so that a failure carries errno's reason.
private struct OutputFile {
    let descriptor: Int32
    let shownPath: String

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = posixWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw NFXError.io("cannot write \(shownPath): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}

private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// A hidden folder beside the destination, holding the export until it is complete. Its files are registered with
/// `TemporaryFiles`, so an interrupt removes them (the empty folder itself stays: the handler only unlinks files).
private final class TemporaryFolder {
    let path: String
    private var files: [String] = []

    init(beside target: URL) throws {
        let parent = target.deletingLastPathComponent().path
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        path = parent + "/." + target.lastPathComponent + ".tmp-\(getpid())-" + suffix
        guard mkdir(path, 0o755) == 0 else {
            throw NFXError.cannotCreate("cannot write in \(parent): \(String(cString: strerror(errno)))",
                                        hint: "choose a writable folder with --phy")
        }
    }

    func writeFile(_ name: String, _ data: Data, shownAs folder: String) throws {
        try writeFile(name, shownAs: folder) { file in try data.withUnsafeBytes { try file.write($0) } }
    }

    func writeFile(_ name: String, shownAs folder: String, _ body: (OutputFile) throws -> Void) throws {
        let filePath = path + "/" + name
        // Registered before it exists, so a signal in between cannot leave it behind.
        TemporaryFiles.shared.register(filePath)
        files.append(filePath)
        let descriptor = open(filePath, O_CREAT | O_EXCL | O_WRONLY, 0o644)
        guard descriptor >= 0 else {
            throw NFXError.cannotCreate("cannot create \(folder)/\(name): \(String(cString: strerror(errno)))")
        }
        let file = OutputFile(descriptor: descriptor, shownPath: folder + "/" + name)
        do {
            try body(file)
        } catch {
            close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else {
            throw NFXError.io("cannot write \(folder)/\(name): \(String(cString: strerror(errno)))")
        }
    }

    /// Renames the finished folder to `target`. An existing `target` (allowed by `checkDestination` only with
    /// `replacing`) is first moved aside, and put back if the rename fails.
    func move(to target: URL, replacing: Bool) throws {
        let destination = target.path
        var setAside: String? = nil
        if FileManager.default.fileExists(atPath: destination) {
            guard replacing else {
                throw NFXError.cannotCreate("the phy output folder \(destination) appeared while nfx was running; "
                                            + "nothing was replaced", hint: "pass --force to replace it")
            }
            let aside = path.replacingOccurrences(of: ".tmp-", with: ".old-")
            guard rename(destination, aside) == 0 else {
                throw NFXError.io("cannot replace \(destination): \(String(cString: strerror(errno)))")
            }
            setAside = aside
        }
        let failure: Int32? = TemporaryFiles.shared.withSignalsHeld {
            guard rename(path, destination) == 0 else { return errno }
            for file in files { TemporaryFiles.shared.unregisterHeld(file) }
            files = []
            return nil
        }
        if let failure {
            if let setAside { _ = rename(setAside, destination) }
            throw NFXError.io("cannot move the finished phy folder into place at \(destination): "
                              + String(cString: strerror(failure)))
        }
        // The replaced export is gone from view; failing to delete it leaves only a hidden folder behind.
        if let setAside { try? FileManager.default.removeItem(atPath: setAside) }
    }

    /// Removes the folder and everything in it.
    func discard() {
        try? FileManager.default.removeItem(atPath: path)
        for file in files { TemporaryFiles.shared.unregister(file) }
        files = []
    }
}
