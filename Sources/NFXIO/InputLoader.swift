import Foundation
import HDF5Kit
import NFXCore

/// How the stored axes map onto the analyses' units × time.
public enum TimeAxis: Sendable, Equatable {
    /// Time-first inside NWB TimeSeries groups, time-last everywhere else.
    case automatic
    /// Stored time × units: transpose on read.
    case first
    /// Stored units × time: never transpose.
    case last
}

/// What an analysis needs from its input.
public struct InputRequirements: Sendable {
    /// The number of dimensions the analysis works on (2 for units × time, 3 for tensors).
    public var rank: Int
    /// What the analysis calls its axes, for error messages ("units × time").
    public var axesDescription: String
    /// Whether NaN marks missing entries (masked analyses) or is an error.
    public var allowsNaN: Bool
    public var timeAxis: TimeAxis

    public init(rank: Int, axesDescription: String, allowsNaN: Bool = false, timeAxis: TimeAxis = .automatic) {
        self.rank = rank
        self.axesDescription = axesDescription
        self.allowsNaN = allowsNaN
        self.timeAxis = timeAxis
    }
}

/// An input array ready for an analysis, with where it came from (for provenance and messages).
public struct LoadedInput: Sendable {
    public enum Format: String, Sendable { case hdf5, npy }
    public let file: String
    /// The HDF5 dataset path, or "" for .npy files.
    public let dataset: String
    public let format: Format
    /// Shape as stored on disk.
    public let storedShape: [Int]
    /// True when the stored array was time-first and has been transposed to units × time.
    public let transposed: Bool
    /// Float64, in the analysis' orientation, NWB conversion applied.
    public let array: NDArray<Double>
    /// Root attributes of an HDF5 input (e.g. `frame_rate`, `sampling_rate`); empty for .npy.
    public let fileAttributes: [String: HDF5AttributeValue]

    /// `file:dataset`, the way messages name the input.
    public var name: String { dataset.isEmpty ? file : "\(file):\(dataset)" }
}

/// Reads `PATH[:DATASET]` as the contract says: sniffs HDF5 or .npy, picks the dataset, converts to Float64,
/// applies NWB's conversion/offset/channel_conversion, orients time-first NWB data, validates.
public enum InputLoader {
    /// Groups whose datasets are ground truth or references, never an analysis' input.
    public static let nonInputGroups = ["/truth", "/reference"]

    public static func load(_ spec: InputSpec, requirements: InputRequirements) throws -> LoadedInput {
        let path = spec.path
        try checkReadableFile(path)
        let input: LoadedInput
        switch try format(of: path) {
        case .npy:
            if let dataset = spec.dataset {
                throw NFXError.usage("\(path) is a NumPy .npy file; it has no dataset \(dataset)",
                                     hint: "give the path alone: \(path)")
            }
            input = try loadNPY(path, requirements: requirements)
        case .hdf5:
            input = try loadHDF5(spec, requirements: requirements)
        }
        try validate(input, requirements: requirements)
        return input
    }

    /// Missing, a directory, or unreadable: exit 66 before any format is tried.
    public static func checkReadableFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NFXError.noInput("\(path): no such file")
        }
        if isDirectory.boolValue {
            throw NFXError.noInput("\(path) is a directory, not a data file",
                                   hint: "give an HDF5 (.h5, .nwb) or .npy file inside it")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw NFXError.noInput("\(path) is not readable (permission denied)")
        }
    }

    /// HDF5 or .npy, told by the file's signature rather than its name; anything else is an input error (66).
    public static func format(of path: String) throws -> LoadedInput.Format {
        if try isNPY(path) { return .npy }
        if HDF5File.hasSignature(path: path) { return .hdf5 }
        throw NFXError.noInput("\(path) is neither an HDF5 nor a NumPy .npy file",
                               hint: "nfx reads HDF5 (.h5, .hdf5, .nwb) and .npy files")
    }

    static func isNPY(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let bytes = (try? handle.read(upToCount: NPY.magic.count)) ?? Data()
        return NPY.hasSignature(Array(bytes))
    }

    static func loadNPY(_ path: String, requirements: InputRequirements) throws -> LoadedInput {
        let decoded: (array: NDArray<Double>, header: NPY.Header)
        do {
            decoded = try NPY.read(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw NFXError.wrapping(error, file: path)
        }
        let (array, transposed) = try orient(decoded.array, name: path, timeFirstByDefault: false,
                                             requirements: requirements)
        return LoadedInput(file: path, dataset: "", format: .npy, storedShape: decoded.header.shape,
                           transposed: transposed, array: array, fileAttributes: [:])
    }

    static func loadHDF5(_ spec: InputSpec, requirements: InputRequirements) throws -> LoadedInput {
        do {
            let source = try HDF5Source(spec, requirements: requirements)
            var array = try source.dataset.read(as: Double.self)
            try applyNWBConversion(&array, dataset: source.dataset, parent: source.parent,
                                   isElectricalSeries: source.isElectricalSeries)
            let (oriented, transposed) = try orient(array, name: source.name, timeFirstByDefault: source.isTimeSeries,
                                                    requirements: requirements)
            return LoadedInput(file: spec.path, dataset: source.datasetPath, format: .hdf5,
                               storedShape: source.dataset.shape, transposed: transposed, array: oriented,
                               fileAttributes: try source.fileAttributes())
        } catch let error as HDF5Error {
            throw NFXError(error)
        }
    }

    /// The dataset an input spec names (or the only candidate), with what decides how it is read.
    struct HDF5Source {
        let file: HDF5File
        let datasetPath: String
        let dataset: HDF5Dataset
        let parent: HDF5Group?
        /// Inside an NWB TimeSeries group (stored time-first), and an ElectricalSeries in particular.
        let isTimeSeries: Bool
        let isElectricalSeries: Bool
        var name: String { "\(file.path):\(datasetPath)" }

        init(_ spec: InputSpec, requirements: InputRequirements) throws {
            file = try HDF5File.open(spec.path)
            datasetPath = try spec.dataset ?? chooseDataset(in: file, requirements: requirements)
            guard file.contains(datasetPath) else {
                throw NFXError.noInput("\(spec.path) has no dataset \(datasetPath)", hint: try datasetListing(file))
            }
            do {
                dataset = try file.dataset(datasetPath)
            } catch HDF5Error.notADataset {
                throw NFXError.noInput("\(spec.path):\(datasetPath) is a group, not a dataset",
                                       hint: try datasetListing(file, under: datasetPath))
            }
            guard dataset.elementType.isNumeric else {
                throw NFXError.data("\(spec.path):\(datasetPath) holds \(dataset.elementType) values, not numbers")
            }
            parent = try parentGroup(of: dataset, in: file)
            let neurodataType = try parent?.attribute("neurodata_type")?.stringValue
            isTimeSeries = neurodataType?.hasSuffix("Series") ?? false
            isElectricalSeries = neurodataType == "ElectricalSeries"
        }

        func fileAttributes() throws -> [String: HDF5AttributeValue] {
            var attributes: [String: HDF5AttributeValue] = [:]
            for (name, value) in try file.root.allAttributes() { attributes[name] = value }
            return attributes
        }
    }

    /// The only numeric dataset of the needed rank outside /truth and /reference, else a usage error listing them.
    static func chooseDataset(in file: HDF5File, requirements: InputRequirements) throws -> String {
        let datasets = try file.walk(attributes: false).filter { info in
            info.kind == .dataset && !nonInputGroups.contains { info.path == $0 || info.path.hasPrefix($0 + "/") }
        }
        let candidates = datasets.filter { ($0.dataset?.elementType.isNumeric ?? false) && $0.dataset?.shape.count == requirements.rank }
        if candidates.count == 1 { return candidates[0].path }
        if candidates.isEmpty {
            throw NFXError.data("\(file.path) has no \(requirements.rank)-D numeric dataset (\(requirements.axesDescription))",
                                hint: try datasetListing(file))
        }
        throw NFXError.usage(
            "\(file.path) has \(candidates.count) \(requirements.rank)-D datasets; name one as \(file.path):DATASET",
            hint: "candidates: " + candidates.map { "\($0.path) (\(describeShape($0.dataset!.shape)))" }
                .joined(separator: ", "))
    }

    /// "datasets in FILE: /a (3 × 4), /b (10)", for hints.
    static func datasetListing(_ file: HDF5File, under prefix: String = "") throws -> String {
        let datasets = try file.walk(attributes: false).filter { $0.kind == .dataset && $0.path.hasPrefix(prefix) }
        if datasets.isEmpty { return "\(file.path) holds no datasets\(prefix.isEmpty ? "" : " under \(prefix)")" }
        let shown = datasets.prefix(12).map { "\($0.path) (\(describeShape($0.dataset!.shape)))" }
        let more = datasets.count > 12 ? ", … (\(datasets.count - 12) more; see nfx info \(file.path))" : ""
        return "datasets in \(file.path): " + shown.joined(separator: ", ") + more
    }

    static func parentGroup(of dataset: HDF5Dataset, in file: HDF5File) throws -> HDF5Group? {
        let components = dataset.objectPath.split(separator: "/")
        guard components.count > 1 else { return file.root }
        return try file.group("/" + components.dropLast().joined(separator: "/"))
    }

    /// NWB stores raw values with `conversion` (multiply) and `offset` (add) on the dataset and, for
    /// ElectricalSeries, a per-channel `channel_conversion` beside it (NWB schema 2.x, TimeSeries.data).
    static func applyNWBConversion(_ array: inout NDArray<Double>, dataset: HDF5Dataset, parent: HDF5Group?,
                                   isElectricalSeries: Bool) throws {
        let conversion = try dataset.attribute("conversion")?.doubleValue ?? 1
        let offset = try dataset.attribute("offset")?.doubleValue ?? 0
        if isElectricalSeries, let parent, parent.contains("channel_conversion"), array.rank == 2 {
            let channelConversion = try parent.dataset("channel_conversion").read(as: Double.self).elements
            // ElectricalSeries data is time × channels on disk: channel is the last axis.
            let channels = array.shape[1]
            guard channelConversion.count == channels else {
                throw NFXError.data("\(dataset.filePath):\(parent.objectPath)/channel_conversion has \(channelConversion.count) entries for \(channels) channels")
            }
            for index in array.elements.indices {
                array.elements[index] *= channelConversion[index % channels]
            }
        }
        if conversion != 1 || offset != 0 {
            for index in array.elements.indices { array.elements[index] = array.elements[index] * conversion + offset }
        }
    }

    static func orient(_ array: NDArray<Double>, name: String, timeFirstByDefault: Bool,
                       requirements: InputRequirements) throws -> (NDArray<Double>, Bool) {
        guard array.rank == requirements.rank else {
            let hint = array.rank == 1 && requirements.rank == 2
                ? "a single trace must be stored as 1 × time (e.g. numpy's x[None, :])" : nil
            throw NFXError.data("\(name) is \(array.rank)-D (\(describeShape(array.shape))); this command needs a \(requirements.rank)-D \(requirements.axesDescription) dataset",
                                hint: hint)
        }
        let timeFirst: Bool
        switch requirements.timeAxis {
        case .automatic: timeFirst = timeFirstByDefault
        case .first: timeFirst = true
        case .last: timeFirst = false
        }
        guard timeFirst else { return (array, false) }
        guard array.rank == 2 else {
            throw NFXError.usage("\(name) is time-first, and only 2-D time-first data can be transposed",
                                 hint: "pass --time-last if the data is already \(requirements.axesDescription)")
        }
        return (array.reversedAxes(), true)
    }

    static func validate(_ input: LoadedInput, requirements: InputRequirements) throws {
        if input.array.isEmpty {
            throw NFXError.data("\(input.name) is empty (\(describeShape(input.storedShape)))")
        }
        let (nan, infinite) = input.array.nonFiniteCounts()
        if infinite > 0 {
            throw NFXError.data("\(input.name) has \(infinite) infinite value\(infinite == 1 ? "" : "s")",
                                hint: "replace them with NaN (missing) or finite values")
        }
        if nan > 0 && !requirements.allowsNaN {
            throw NFXError.data("\(input.name) has \(nan) NaN value\(nan == 1 ? "" : "s"), which this command cannot use",
                                hint: "fill or drop the missing entries first")
        }
    }
}
