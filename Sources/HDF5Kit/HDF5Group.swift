import CHDF5
import NFXCore

/// A group: a folder of datasets and groups. A file's root group is `/`.
public final class HDF5Group: HDF5AttributeHolder, @unchecked Sendable {
    public let filePath: String
    public let objectPath: String
    public let handle: HDF5Handle
    /// Keeps the file open while the group is in use.
    let file: HDF5Handle

    init(filePath: String, objectPath: String, handle: HDF5Handle, file: HDF5Handle) {
        self.filePath = filePath
        self.objectPath = objectPath
        self.handle = handle
        self.file = file
    }

    /// What kind of object a name refers to.
    public enum ObjectKind: Sendable { case group, dataset, other }

    func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return objectPath == "/" ? "/" + path : objectPath + "/" + path
    }

    /// The kind of object at `path` (relative to this group or absolute), or nil when nothing is there.
    /// Walks component by component, because H5Oopen on "a/b" fails noisily when "a" is missing.
    public func kind(of path: String) -> ObjectKind? {
        HDF5Library.synchronized {
            let components = path.split(separator: "/").map(String.init)
            if components.isEmpty { return .group }
            let start = path.hasPrefix("/") ? "/" : "."
            var prefix = start == "/" ? "" : "."
            for component in components {
                prefix += "/" + component
                let lookup = prefix.hasPrefix("./") ? String(prefix.dropFirst(2)) : prefix
                guard H5Lexists(handle.id, lookup, nfx_H5P_DEFAULT()) > 0,
                      H5Oexists_by_name(handle.id, lookup, nfx_H5P_DEFAULT()) > 0
                else { _ = innermostHDF5Error(); return nil }
            }
            let lookup = prefix.hasPrefix("./") ? String(prefix.dropFirst(2)) : prefix
            let id = H5Oopen(handle.id, lookup, nfx_H5P_DEFAULT())
            guard id >= 0 else { _ = innermostHDF5Error(); return nil }
            defer { H5Oclose(id) }
            switch H5Iget_type(id) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    public func contains(_ path: String) -> Bool { kind(of: path) != nil }

    public func group(_ path: String) throws -> HDF5Group {
        let full = absolute(path)
        switch kind(of: path) {
        case nil: throw HDF5Error.notFound(file: filePath, object: full)
        case .group?: break
        default: throw HDF5Error.notAGroup(file: filePath, object: full)
        }
        return try HDF5Library.synchronized {
            let id = H5Gopen2(handle.id, path, nfx_H5P_DEFAULT())
            guard id >= 0 else { throw HDF5Error.readFailed(file: filePath, object: full, reason: innermostHDF5Error()) }
            return HDF5Group(filePath: filePath, objectPath: full, handle: HDF5Handle(id, .group), file: file)
        }
    }

    /// Creates a group, and any missing groups above it (as `mkdir -p` does).
    @discardableResult
    public func createGroup(_ path: String) throws -> HDF5Group {
        if kind(of: path) == .group { return try group(path) }
        let full = absolute(path)
        return try HDF5Library.synchronized {
            let scope = HDF5Scope()
            defer { scope.close() }
            let linkProperties = scope.own(H5Pcreate(nfx_H5P_LINK_CREATE()), .propertyList)
            H5Pset_create_intermediate_group(linkProperties, 1)
            let id = H5Gcreate2(handle.id, path, linkProperties, nfx_H5P_DEFAULT(), nfx_H5P_DEFAULT())
            guard id >= 0 else { throw HDF5Error.writeFailed(file: filePath, object: full, reason: innermostHDF5Error()) }
            return HDF5Group(filePath: filePath, objectPath: full, handle: HDF5Handle(id, .group), file: file)
        }
    }

    public func dataset(_ path: String) throws -> HDF5Dataset {
        let full = absolute(path)
        switch kind(of: path) {
        case nil: throw HDF5Error.notFound(file: filePath, object: full)
        case .dataset?: break
        default: throw HDF5Error.notADataset(file: filePath, object: full)
        }
        return try HDF5Library.synchronized {
            let id = H5Dopen2(handle.id, path, nfx_H5P_DEFAULT())
            guard id >= 0 else { throw HDF5Error.readFailed(file: filePath, object: full, reason: innermostHDF5Error()) }
            return try HDF5Dataset(filePath: filePath, objectPath: full, handle: HDF5Handle(id, .dataset), file: file)
        }
    }

    /// The names of this group's members, in name order, with their kinds.
    public func members() throws -> [(name: String, kind: ObjectKind)] {
        try HDF5Library.synchronized {
            var info = H5G_info_t()
            guard H5Gget_info(handle.id, &info) >= 0 else {
                throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
            }
            var result: [(String, ObjectKind)] = []
            for index in 0..<info.nlinks {
                let length = H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0,
                                                nfx_H5P_DEFAULT())
                guard length >= 0 else {
                    throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
                }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                                   nfx_H5P_DEFAULT())
                let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                result.append((name, kind(of: name) ?? .other))
            }
            return result
        }
    }

    /// Writes a dataset, replacing nothing: writing over an existing name is an error.
    @discardableResult
    public func write<T: HDF5Numeric>(_ array: NDArray<T>, to path: String,
                                      layout: HDF5Layout = .automatic) throws -> HDF5Dataset {
        try write(array.elements, shape: array.shape, to: path, layout: layout)
    }

    @discardableResult
    public func write<T: HDF5Numeric>(_ values: [T], shape: [Int], to path: String,
                                      layout: HDF5Layout = .automatic) throws -> HDF5Dataset {
        let full = absolute(path)
        precondition(shape.reduce(1, *) == values.count, "write: shape \(shape) does not match \(values.count) values")
        // Parent groups first, so that "/truth/W" works on a fresh file.
        let parent = full.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty { try createGroup("/" + parent) }

        return try HDF5Library.synchronized {
            let fail = { HDF5Error.writeFailed(file: self.filePath, object: full, reason: innermostHDF5Error()) }
            let dims = [hsize_t](extents: shape)
            let scope = HDF5Scope()
            defer { scope.close() }
            let space = scope.own(shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil),
                                  .dataspace)
            let creation = scope.own(H5Pcreate(nfx_H5P_DATASET_CREATE()), .propertyList)
            if let chunks = layout.chunkShape(for: shape, elementSize: MemoryLayout<T>.stride) {
                guard H5Pset_chunk(creation, Int32(chunks.count), [hsize_t](extents: chunks)) >= 0 else { throw fail() }
                if layout.shuffle { H5Pset_shuffle(creation) }
                if let level = layout.compressionLevel { H5Pset_deflate(creation, UInt32(level)) }
            }
            let id = H5Dcreate2(handle.id, full, T.hdf5Type.nativeType, space, nfx_H5P_DEFAULT(), creation,
                                nfx_H5P_DEFAULT())
            guard id >= 0 else { throw fail() }
            let dataset = HDF5Handle(id, .dataset)
            if !values.isEmpty {
                let status = values.withUnsafeBytes {
                    H5Dwrite(dataset.id, T.hdf5Type.nativeType, nfx_H5S_ALL(), nfx_H5S_ALL(), nfx_H5P_DEFAULT(),
                             $0.baseAddress)
                }
                guard status >= 0 else { throw fail() }
            }
            return try HDF5Dataset(filePath: filePath, objectPath: full, handle: dataset, file: file)
        }
    }

    /// Every object below this group, depth first in name order, with each dataset's shape, type and storage.
    /// Only hard links are followed and each object is listed once, so soft-link loops and objects linked
    /// under two names cannot make the listing endless or ambiguous. `attributes: false` skips reading every
    /// object's attributes when only names, shapes and types are wanted.
    public func walk(attributes: Bool = true) throws -> [HDF5ObjectInfo] {
        var visited: Set<UInt64> = [address]
        return try walk(attributes: attributes, visited: &visited)
    }

    private func walk(attributes: Bool, visited: inout Set<UInt64>) throws -> [HDF5ObjectInfo] {
        var result: [HDF5ObjectInfo] = []
        for (name, kind) in try members() {
            guard HDF5Library.synchronized({ nfx_is_hard_link(handle.id, name) == 1 }) else { continue }
            switch kind {
            case .group:
                let child = try group(name)
                guard visited.insert(child.address).inserted else { continue }
                result.append(HDF5ObjectInfo(path: child.objectPath, kind: .group, dataset: nil,
                                             attributes: attributes ? try child.allAttributes() : []))
                result += try child.walk(attributes: attributes, visited: &visited)
            case .dataset:
                let child = try dataset(name)
                guard visited.insert(child.address).inserted else { continue }
                result.append(HDF5ObjectInfo(path: child.objectPath, kind: .dataset, dataset: child.storageInfo,
                                             attributes: attributes ? try child.allAttributes() : []))
            case .other:
                result.append(HDF5ObjectInfo(path: absolute(name), kind: .other, dataset: nil, attributes: []))
            }
        }
        return result
    }
}

extension HDF5AttributeHolder {
    /// The object's address in its file: one object reached through two hard links has one address.
    var address: UInt64 { HDF5Library.synchronized { UInt64(nfx_object_address(handle.id)) } }

    /// Every attribute nfx can read, in name order.
    public func allAttributes() throws -> [(name: String, value: HDF5AttributeValue)] {
        try attributeNames().compactMap { name in try attribute(name).map { (name, $0) } }
    }
}

/// One entry of `HDF5Group.walk()`.
public struct HDF5ObjectInfo: @unchecked Sendable {
    public let path: String
    public let kind: HDF5Group.ObjectKind
    public let dataset: HDF5StorageInfo?
    public let attributes: [(name: String, value: HDF5AttributeValue)]
}

/// How a dataset is stored: chunking and compression, chosen automatically unless given.
public struct HDF5Layout: Sendable {
    public enum Storage: Sendable, Equatable {
        /// Contiguous when small, chunked and compressed from `automaticThresholdBytes` on.
        case automatic
        case contiguous
        /// Chunked with the given chunk shape, or a chosen one when nil.
        case chunked([Int]?)
    }

    public var storage: Storage
    /// gzip level 0–9 for chunked datasets; nil for none.
    public var compressionLevel: Int?
    /// Byte shuffle before gzip: groups the bytes of like magnitude, which compresses floats much better.
    public var shuffle: Bool

    public static let automaticThresholdBytes = 1 << 20
    /// About 1 MiB per chunk: big enough for gzip to work well, small enough to read a few rows cheaply.
    public static let targetChunkBytes = 1 << 20

    public init(storage: Storage, compressionLevel: Int? = 4, shuffle: Bool = true) {
        self.storage = storage
        self.compressionLevel = compressionLevel
        self.shuffle = shuffle
    }

    public static let automatic = HDF5Layout(storage: .automatic)
    public static let contiguous = HDF5Layout(storage: .contiguous, compressionLevel: nil, shuffle: false)
    public static func chunked(_ chunks: [Int]? = nil, compressionLevel: Int? = 4, shuffle: Bool = true) -> HDF5Layout {
        HDF5Layout(storage: .chunked(chunks), compressionLevel: compressionLevel, shuffle: shuffle)
    }

    /// The chunk shape to use, or nil for contiguous storage.
    func chunkShape(for shape: [Int], elementSize: Int) -> [Int]? {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { return nil }
        switch storage {
        case .contiguous:
            return nil
        case .chunked(let chunks?):
            return zip(chunks, shape).map { max(1, min($0, $1)) }
        case .automatic where shape.reduce(elementSize, *) < HDF5Layout.automaticThresholdBytes:
            return nil
        case .automatic, .chunked(nil):
            // Halve the longest axis until a chunk is about targetChunkBytes.
            var chunk = shape
            while chunk.reduce(elementSize, *) > HDF5Layout.targetChunkBytes {
                let longest = chunk.indices.max { chunk[$0] < chunk[$1] }!
                chunk[longest] = (chunk[longest] + 1) / 2
            }
            return chunk
        }
    }
}
