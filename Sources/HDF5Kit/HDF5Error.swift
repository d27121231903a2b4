import CHDF5

/// Everything that can go wrong in HDF5Kit, each naming the file and the object, so that a user can act on it.
public enum HDF5Error: Error, CustomStringConvertible, Equatable {
    /// The file exists but has no HDF5 signature.
    case notHDF5(file: String)
    /// The file has an HDF5 signature but cannot be opened: truncated or corrupt.
    case unreadableFile(file: String, reason: String)
    case cannotCreate(file: String, reason: String)
    case notFound(file: String, object: String)
    case notADataset(file: String, object: String)
    case notAGroup(file: String, object: String)
    case unsupportedType(file: String, object: String, type: String)
    case readFailed(file: String, object: String, reason: String)
    case writeFailed(file: String, object: String, reason: String)
    case invalidSelection(file: String, object: String, reason: String)
    case closeFailed(file: String, reason: String)
    /// The dataset would not fit in memory (or its element count overflows).
    case tooLarge(file: String, object: String, shape: [Int])
    /// Compressed with a filter this libhdf5 lacks (h5py's lzf, blosc, …).
    case unavailableFilter(file: String, object: String, filters: [String])

    public var description: String {
        switch self {
        case .notHDF5(let file):
            return "\(file) is not an HDF5 file (no HDF5 signature)"
        case .unreadableFile(let file, let reason):
            return "\(file) cannot be read as HDF5, it may be truncated or corrupt (\(reason))"
        case .cannotCreate(let file, let reason):
            return "cannot create \(file) (\(reason))"
        case .notFound(let file, let object):
            return "\(file) has no object \(object)"
        case .notADataset(let file, let object):
            return "\(file):\(object) is a group, not a dataset"
        case .notAGroup(let file, let object):
            return "\(file):\(object) is not a group"
        case .unsupportedType(let file, let object, let type):
            return "\(file):\(object) holds \(type) values, which nfx cannot read as numbers"
        case .readFailed(let file, let object, let reason):
            return "reading \(file):\(object) failed, the file may be truncated or corrupt (\(reason))"
        case .writeFailed(let file, let object, let reason):
            return "writing \(file):\(object) failed (\(reason))"
        case .invalidSelection(let file, let object, let reason):
            return "\(file):\(object): \(reason)"
        case .closeFailed(let file, let reason):
            return "closing \(file) failed, the disk may be full (\(reason))"
        case .tooLarge(let file, let object, let shape):
            return "\(file):\(object) is \(shape.map(String.init).joined(separator: " × ")), too large to load into this machine's memory"
        case .unavailableFilter(let file, let object, let filters):
            return "\(file):\(object) is compressed with \(filters.joined(separator: ", ")), which this HDF5 library cannot decode"
        }
    }

    /// True for failures of the bytes on disk (as opposed to a wrong name or type asked for).
    public var isIOFailure: Bool {
        switch self {
        case .unreadableFile, .readFailed, .writeFailed, .closeFailed: return true
        default: return false
        }
    }
}

/// The most specific message on HDF5's error stack, which is then cleared.
func innermostHDF5Error() -> String {
    var error = nfx_innermost_error()
    let text = withUnsafeBytes(of: &error.text) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    return text.isEmpty ? "HDF5 gave no reason" : text
}
