import CHDF5
import Foundation

/// An open HDF5 file. Its root group holds the file's attributes (h5py's `f.attrs`).
public final class HDF5File: @unchecked Sendable {
    public let path: String
    public let root: HDF5Group
    private let handle: HDF5Handle

    private init(path: String, id: hid_t) {
        self.path = path
        handle = HDF5Handle(id, .file)
        let rootID = H5Gopen2(id, "/", nfx_H5P_DEFAULT())
        root = HDF5Group(filePath: path, objectPath: "/", handle: HDF5Handle(rootID, .group), file: handle)
    }

    /// The HDF5 signature `\x89HDF\r\n\x1a\n`, found at byte 0 or, after a user block, at 512, 1024, 2048, ….
    public static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// True when the file starts with the HDF5 signature (at any of the offsets the format allows).
    public static func hasSignature(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        var offset: UInt64 = 0
        while true {
            do {
                try handle.seek(toOffset: offset)
                guard let bytes = try handle.read(upToCount: 8), bytes.count == 8 else { return false }
                if Array(bytes) == signature { return true }
            } catch { return false }
            offset = offset == 0 ? 512 : offset * 2
            if offset > 1 << 30 { return false }
        }
    }

    /// Opens an existing file; read-only unless `writable`.
    public static func open(_ path: String, writable: Bool = false) throws -> HDF5File {
        guard hasSignature(path: path) else { throw HDF5Error.notHDF5(file: path) }
        return try HDF5Library.synchronized {
            let access = writable ? nfx_create_access_properties() : nfx_read_access_properties()
            defer { H5Pclose(access) }
            let id = H5Fopen(path, writable ? nfx_H5F_ACC_RDWR() : nfx_H5F_ACC_RDONLY(), access)
            guard id >= 0 else { throw HDF5Error.unreadableFile(file: path, reason: innermostHDF5Error()) }
            let file = HDF5File(path: path, id: id)
            guard file.root.handle.id >= 0 else {
                throw HDF5Error.unreadableFile(file: path, reason: innermostHDF5Error())
            }
            return file
        }
    }

    /// Creates a new file, replacing any file of that name when `overwrite`, failing otherwise.
    public static func create(_ path: String, overwrite: Bool = false) throws -> HDF5File {
        try HDF5Library.synchronized {
            let access = nfx_create_access_properties()
            defer { H5Pclose(access) }
            let id = H5Fcreate(path, overwrite ? nfx_H5F_ACC_TRUNC() : nfx_H5F_ACC_EXCL(), nfx_H5P_DEFAULT(), access)
            guard id >= 0 else { throw HDF5Error.cannotCreate(file: path, reason: innermostHDF5Error()) }
            return HDF5File(path: path, id: id)
        }
    }

    /// Flushes and closes. Objects still referenced keep HDF5's file open until they go; writers should let
    /// their groups and datasets go out of scope first.
    public func close() throws {
        try HDF5Library.synchronized {
            guard H5Fflush(handle.id, H5F_SCOPE_GLOBAL) >= 0 else {
                throw HDF5Error.closeFailed(file: path, reason: innermostHDF5Error())
            }
            root.handle.close()
            guard handle.close() else { throw HDF5Error.closeFailed(file: path, reason: innermostHDF5Error()) }
        }
    }

    // Conveniences that forward to the root group.
    public func dataset(_ path: String) throws -> HDF5Dataset { try root.dataset(path) }
    public func group(_ path: String) throws -> HDF5Group { try root.group(path) }
    public func contains(_ path: String) -> Bool { root.contains(path) }
    public func walk(attributes: Bool = true) throws -> [HDF5ObjectInfo] { try root.walk(attributes: attributes) }
}
