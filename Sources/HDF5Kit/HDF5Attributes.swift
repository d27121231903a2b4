import CHDF5
import Foundation

/// An attribute's value. Strings are written as variable-length UTF-8 (h5py reads them as `str`);
/// fixed-length strings written by other tools are read too.
public enum HDF5AttributeValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case strings([String])
    case double(Double)
    case doubles([Double])
    case integer(Int64)
    case integers([Int64])

    public var description: String {
        switch self {
        case .string(let s): return s
        case .strings(let s): return "[" + s.joined(separator: ", ") + "]"
        case .double(let d): return "\(d)"
        case .doubles(let d): return "[" + d.map { "\($0)" }.joined(separator: ", ") + "]"
        case .integer(let i): return "\(i)"
        case .integers(let i): return "[" + i.map { "\($0)" }.joined(separator: ", ") + "]"
        }
    }

    /// The value as one number, when it is one (a one-element array counts).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .integer(let i): return Double(i)
        case .doubles(let d) where d.count == 1: return d[0]
        case .integers(let i) where i.count == 1: return Double(i[0])
        default: return nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .strings(let s) where s.count == 1: return s[0]
        default: return nil
        }
    }
}

/// Attribute access shared by files (their root group), groups and datasets.
public protocol HDF5AttributeHolder {
    var filePath: String { get }
    var objectPath: String { get }
    var handle: HDF5Handle { get }
}

extension HDF5AttributeHolder {
    public func attributeNames() throws -> [String] {
        try HDF5Library.synchronized {
            let count = nfx_attribute_count(handle.id)
            guard count >= 0 else {
                throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
            }
            return try (0..<count).map { index in
                let length = H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index),
                                                nil, 0, nfx_H5P_DEFAULT())
                guard length >= 0 else {
                    throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
                }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index),
                                   &buffer, buffer.count, nfx_H5P_DEFAULT())
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    public func hasAttribute(_ name: String) -> Bool {
        HDF5Library.synchronized { H5Aexists(handle.id, name) > 0 }
    }

    /// The attribute's value, or nil when there is no such attribute or it is of a kind nfx does not read.
    public func attribute(_ name: String) throws -> HDF5AttributeValue? {
        try HDF5Library.synchronized {
            guard H5Aexists(handle.id, name) > 0 else { return nil }
            let attributeID = H5Aopen(handle.id, name, nfx_H5P_DEFAULT())
            guard attributeID >= 0 else {
                throw HDF5Error.readFailed(file: filePath, object: "\(objectPath)@\(name)", reason: innermostHDF5Error())
            }
            let scope = HDF5Scope()
            defer { scope.close() }
            let attribute = scope.own(attributeID, .attribute)
            let type = scope.own(H5Aget_type(attribute), .datatype)
            let space = scope.own(H5Aget_space(attribute), .dataspace)
            let count = Int(H5Sget_simple_extent_npoints(space))
            // An empty (null dataspace) attribute, h5py's h5py.Empty, has no value to show.
            guard H5Sget_simple_extent_type(space) != H5S_NULL, count > 0 else { return nil }
            let isScalar = H5Sget_simple_extent_ndims(space) == 0
            let fail = { HDF5Error.readFailed(file: filePath, object: "\(objectPath)@\(name)", reason: innermostHDF5Error()) }

            switch HDF5ElementType(datatype: type) {
            case .float:
                var values = [Double](repeating: 0, count: count)
                guard H5Aread(attribute, nfx_H5T_NATIVE_DOUBLE(), &values) >= 0 else { throw fail() }
                return isScalar ? .double(values[0]) : .doubles(values)
            case .signedInteger, .unsignedInteger:
                var values = [Int64](repeating: 0, count: count)
                guard H5Aread(attribute, nfx_H5T_NATIVE_INT64(), &values) >= 0 else { throw fail() }
                return isScalar ? .integer(values[0]) : .integers(values)
            case .string:
                let strings = try readStrings(attribute: attribute, type: type, space: space, count: count,
                                              fail: fail)
                return isScalar ? .string(strings.first ?? "") : .strings(strings)
            case .other:
                return nil
            }
        }
    }

    private func readStrings(attribute: hid_t, type: hid_t, space: hid_t, count: Int,
                             fail: () -> HDF5Error) throws -> [String] {
        let scope = HDF5Scope()
        defer { scope.close() }
        if H5Tis_variable_str(type) > 0 {
            let memoryType = scope.own(H5Tcopy(nfx_H5T_C_S1()), .datatype)
            H5Tset_size(memoryType, nfx_H5T_VARIABLE())
            H5Tset_cset(memoryType, H5Tget_cset(type))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attribute, memoryType, &pointers) >= 0 else { throw fail() }
            defer { H5Dvlen_reclaim(memoryType, space, nfx_H5P_DEFAULT(), &pointers) }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = Int(H5Tget_size(type))
        let memoryType = scope.own(H5Tcopy(type), .datatype)
        var bytes = [UInt8](repeating: 0, count: max(1, size * count))
        guard H5Aread(attribute, memoryType, &bytes) >= 0 else { throw fail() }
        return (0..<count).map { i in
            let field = bytes[i * size..<(i + 1) * size].prefix { $0 != 0 }
            return String(decoding: field, as: UTF8.self).trimmingTrailingSpaces()
        }
    }

    /// Creates or replaces an attribute.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue) throws {
        try HDF5Library.synchronized {
            let fail = { HDF5Error.writeFailed(file: filePath, object: "\(objectPath)@\(name)", reason: innermostHDF5Error()) }
            if H5Aexists(handle.id, name) > 0, H5Adelete(handle.id, name) < 0 { throw fail() }

            let scope = HDF5Scope()
            defer { scope.close() }
            func create(type: hid_t, extents: [Int]?) throws -> hid_t {
                let space: hid_t
                if let extents {
                    let dims = [hsize_t](extents: extents)
                    space = scope.own(H5Screate_simple(Int32(dims.count), dims, nil), .dataspace)
                } else {
                    space = scope.own(H5Screate(H5S_SCALAR), .dataspace)
                }
                let id = H5Acreate2(handle.id, name, type, space, nfx_H5P_DEFAULT(), nfx_H5P_DEFAULT())
                guard id >= 0 else { throw fail() }
                return scope.own(id, .attribute)
            }

            var status: herr_t = 0
            switch value {
            case .double(let d):
                var v = d
                status = H5Awrite(try create(type: nfx_H5T_NATIVE_DOUBLE(), extents: nil), nfx_H5T_NATIVE_DOUBLE(), &v)
            case .doubles(let values):
                status = H5Awrite(try create(type: nfx_H5T_NATIVE_DOUBLE(), extents: [values.count]),
                                  nfx_H5T_NATIVE_DOUBLE(), values)
            case .integer(let i):
                var v = i
                status = H5Awrite(try create(type: nfx_H5T_NATIVE_INT64(), extents: nil), nfx_H5T_NATIVE_INT64(), &v)
            case .integers(let values):
                status = H5Awrite(try create(type: nfx_H5T_NATIVE_INT64(), extents: [values.count]),
                                  nfx_H5T_NATIVE_INT64(), values)
            case .string(let s):
                status = try writeStrings([s], extents: nil, scope: scope, create: create)
            case .strings(let values):
                status = try writeStrings(values, extents: [values.count], scope: scope, create: create)
            }
            guard status >= 0 else { throw fail() }
        }
    }

    private func writeStrings(_ strings: [String], extents: [Int]?, scope: HDF5Scope,
                              create: (hid_t, [Int]?) throws -> hid_t) throws -> herr_t {
        let type = scope.own(H5Tcopy(nfx_H5T_C_S1()), .datatype)
        H5Tset_size(type, nfx_H5T_VARIABLE())
        H5Tset_cset(type, H5T_CSET_UTF8)
        let attribute = try create(type, extents)
        let cStrings = strings.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        return H5Awrite(attribute, type, &pointers)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
