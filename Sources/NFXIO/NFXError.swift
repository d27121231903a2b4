import HDF5Kit
import NFXCore

/// An error a user sees: one line naming the file, the dataset or the flag, an optional hint, and the exit
/// code the contract gives for its kind (sysexits.h numbering).
public struct NFXError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Int32, Sendable {
        /// Unknown flag, bad value, output path equal to the input.
        case usage = 64
        /// Wrong rank or shape, empty, NaN/Inf where not allowed, negative values for a non-negative method.
        case data = 65
        /// File not found or unreadable, dataset not found, not HDF5/NPY.
        case noInput = 66
        /// A bug in nfx.
        case `internal` = 70
        /// Output cannot be created, or exists and --force was not given.
        case cannotCreate = 73
        /// Reading or writing failed: truncated or corrupt file, full disk.
        case io = 74
    }

    public let kind: Kind
    public let message: String
    public let hint: String?

    public init(_ kind: Kind, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public var exitCode: Int32 { kind.rawValue }
    public var description: String { message }

    public static func usage(_ message: String, hint: String? = nil) -> NFXError { NFXError(.usage, message, hint: hint) }
    public static func data(_ message: String, hint: String? = nil) -> NFXError { NFXError(.data, message, hint: hint) }
    public static func noInput(_ message: String, hint: String? = nil) -> NFXError { NFXError(.noInput, message, hint: hint) }
    public static func cannotCreate(_ message: String, hint: String? = nil) -> NFXError {
        NFXError(.cannotCreate, message, hint: hint)
    }
    public static func io(_ message: String, hint: String? = nil) -> NFXError { NFXError(.io, message, hint: hint) }
}

extension NFXError {
    /// The contract's classification of an HDF5Kit failure.
    public init(_ error: HDF5Error) {
        switch error {
        case .notHDF5:
            self.init(.noInput, error.description, hint: "nfx reads HDF5 (.h5, .hdf5, .nwb) and NumPy .npy files")
        case .notFound, .notADataset, .notAGroup:
            self.init(.noInput, error.description, hint: nil)
        case .unsupportedType, .tooLarge:
            self.init(.data, error.description, hint: nil)
        case .unavailableFilter:
            self.init(.noInput, error.description,
                      hint: "rewrite it with gzip, e.g. h5repack -f GZIP=4 in.h5 out.h5, then read out.h5")
        case .cannotCreate:
            self.init(.cannotCreate, error.description, hint: nil)
        case .invalidSelection:
            self.init(.usage, error.description, hint: nil)
        case .unreadableFile, .readFailed, .writeFailed, .closeFailed:
            self.init(.io, error.description, hint: nil)
        }
    }

    /// Any error as an NFXError: ours pass through, HDF5Kit's are classified, NPY's are input errors,
    /// anything else is reported as a bug.
    public static func wrapping(_ error: Error, file: String? = nil) -> NFXError {
        switch error {
        case let error as NFXError: return error
        case let error as HDF5Error: return NFXError(error)
        case let error as NPY.ReadError:
            let name = file.map { "\($0): " } ?? ""
            if case .truncated = error { return .io(name + error.description) }
            return .noInput(name + error.description)
        default:
            return NFXError(.internal, "unexpected error: \(error)",
                            hint: "this is a bug in nfx; please report it with the command line")
        }
    }
}
