import CHDF5
import Foundation

/// Process-wide HDF5 state. Debian builds libhdf5 thread-safe, but nfx still serialises every call through one
/// recursive lock: the error stack read after a failed call must be the one that call left.
enum HDF5Library {
    private static let lock: NSRecursiveLock = {
        // First use: stop HDF5 printing its diagnostic stack; HDF5Kit turns the stack into HDF5Error instead.
        nfx_silence_hdf5_errors()
        return NSRecursiveLock()
    }()

    static func synchronized<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// An open HDF5 identifier, closed when the last reference goes away. Opaque outside HDF5Kit.
public final class HDF5Handle: @unchecked Sendable {
    enum Kind { case file, group, dataset, dataspace, datatype, attribute, propertyList }

    let id: hid_t
    let kind: Kind
    private var isClosed = false

    init(_ id: hid_t, _ kind: Kind) {
        self.id = id
        self.kind = kind
    }

    /// Closes now and reports failure (needed for files: closing flushes).
    @discardableResult
    func close() -> Bool {
        HDF5Library.synchronized {
            guard !isClosed else { return true }
            isClosed = true
            let status: herr_t
            switch kind {
            case .file: status = H5Fclose(id)
            case .group: status = H5Gclose(id)
            case .dataset: status = H5Dclose(id)
            case .dataspace: status = H5Sclose(id)
            case .datatype: status = H5Tclose(id)
            case .attribute: status = H5Aclose(id)
            case .propertyList: status = H5Pclose(id)
            }
            return status >= 0
        }
    }

    deinit { close() }
}

extension Array where Element == hsize_t {
    init(extents: [Int]) { self = extents.map { hsize_t($0) } }
}

/// Short-lived identifiers (dataspaces, datatypes, property lists, attributes) opened inside one function and
/// closed together by `defer { scope.close() }`. Holding them as raw ids in a scope that is used at the end avoids
/// Swift releasing a handle object after its last use but before the C call that needs it.
final class HDF5Scope {
    private var owned: [HDF5Handle] = []

    func own(_ id: hid_t, _ kind: HDF5Handle.Kind) -> hid_t {
        owned.append(HDF5Handle(id, kind))
        return id
    }

    func close() {
        for handle in owned.reversed() { handle.close() }
        owned.removeAll()
    }
}
