import CHDF5

/// The numeric element types nfx writes. Reading converts from any integer or float type that HDF5 can convert.
public enum HDF5NumericType: String, Sendable, CaseIterable {
    case float64, float32, int8, int16, int32, int64, uint8, uint16, uint32, uint64

    var nativeType: hid_t {
        switch self {
        case .float64: return nfx_H5T_NATIVE_DOUBLE()
        case .float32: return nfx_H5T_NATIVE_FLOAT()
        case .int8: return nfx_H5T_NATIVE_INT8()
        case .int16: return nfx_H5T_NATIVE_INT16()
        case .int32: return nfx_H5T_NATIVE_INT32()
        case .int64: return nfx_H5T_NATIVE_INT64()
        case .uint8: return nfx_H5T_NATIVE_UINT8()
        case .uint16: return nfx_H5T_NATIVE_UINT16()
        case .uint32: return nfx_H5T_NATIVE_UINT32()
        case .uint64: return nfx_H5T_NATIVE_UINT64()
        }
    }
}

/// A Swift type that maps one-to-one onto an HDF5 native numeric type.
public protocol HDF5Numeric: Sendable {
    static var hdf5Type: HDF5NumericType { get }
}
extension Double: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .float64 } }
extension Float: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .float32 } }
extension Int8: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .int8 } }
extension Int16: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .int16 } }
extension Int32: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .int32 } }
extension Int64: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .int64 } }
extension UInt8: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .uint8 } }
extension UInt16: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .uint16 } }
extension UInt32: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .uint32 } }
extension UInt64: HDF5Numeric { public static var hdf5Type: HDF5NumericType { .uint64 } }

/// What a dataset or attribute holds on disk, as shown by `nfx info`.
public enum HDF5ElementType: Equatable, Sendable, CustomStringConvertible {
    case float(bits: Int)
    case signedInteger(bits: Int)
    case unsignedInteger(bits: Int)
    case string
    case other(String)

    public var isNumeric: Bool {
        switch self {
        case .float, .signedInteger, .unsignedInteger: return true
        case .string, .other: return false
        }
    }

    public var description: String {
        switch self {
        case .float(let bits): return "float\(bits)"
        case .signedInteger(let bits): return "int\(bits)"
        case .unsignedInteger(let bits): return "uint\(bits)"
        case .string: return "string"
        case .other(let name): return name
        }
    }

    init(datatype: hid_t) {
        let size = Int(H5Tget_size(datatype)) * 8
        switch H5Tget_class(datatype) {
        case H5T_FLOAT: self = .float(bits: size)
        case H5T_INTEGER:
            self = H5Tget_sign(datatype) == H5T_SGN_NONE ? .unsignedInteger(bits: size) : .signedInteger(bits: size)
        case H5T_STRING: self = .string
        case H5T_COMPOUND: self = .other("compound")
        case H5T_ENUM: self = .other("enum")
        case H5T_REFERENCE: self = .other("reference")
        case H5T_VLEN: self = .other("variable-length")
        case H5T_ARRAY: self = .other("array")
        case H5T_OPAQUE: self = .other("opaque")
        case H5T_BITFIELD: self = .other("bitfield")
        case H5T_TIME: self = .other("time")
        default: self = .other("unknown")
        }
    }
}
