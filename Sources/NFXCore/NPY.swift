import Foundation

/// NumPy's `.npy` format (version 1.0–3.0): the magic `\x93NUMPY`, a version, a header length, a Python-literal
/// header `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, then the raw data.
/// Reference: numpy/lib/format.py, "NEP 1 — A simple file format for NumPy arrays".
public enum NPY {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// The element types nfx reads; everything is converted to Float64 on read.
    public enum ElementType: String, Sendable {
        case float64 = "f8", float32 = "f4"
        case int8 = "i1", int16 = "i2", int32 = "i4", int64 = "i8"
        case uint8 = "u1", uint16 = "u2", uint32 = "u4", uint64 = "u8"

        public var size: Int { Int(String(rawValue.dropFirst()))! }

        /// The header's `descr`: little-endian, or `|` (no byte order) for single bytes, as numpy writes it.
        public var descr: String { (size == 1 ? "|" : "<") + rawValue }
    }

    public struct Header: Sendable, Equatable {
        public var elementType: ElementType
        public var bigEndian: Bool
        public var fortranOrder: Bool
        public var shape: [Int]
        public var dataOffset: Int
    }

    public enum ReadError: Error, CustomStringConvertible, Equatable {
        case notNPY
        case unsupportedVersion(UInt8)
        case malformedHeader(String)
        case unsupportedType(String)
        case truncated(expectedBytes: Int, actualBytes: Int)

        public var description: String {
            switch self {
            case .notNPY: return "not a NumPy .npy file (no \\x93NUMPY signature)"
            case .unsupportedVersion(let v): return "unsupported .npy format version \(v)"
            case .malformedHeader(let why): return "malformed .npy header: \(why)"
            case .unsupportedType(let descr) where descr.contains("O"):
                return "the array holds Python objects (dtype \(descr)), which would need unpickling; save a numeric array instead"
            case .unsupportedType(let descr):
                return "unsupported .npy dtype \(descr); use float32/float64 or int16/int32/int64"
            case .truncated(let expected, let actual):
                return "truncated .npy file: expected \(expected) bytes, found \(actual)"
            }
        }
    }

    public static func hasSignature(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.starts(with: magic)
    }

    public static func parseHeader(_ data: Data) throws -> Header {
        let bytes = [UInt8](data.prefix(12))
        guard hasSignature(bytes) else { throw ReadError.notNPY }
        guard bytes.count >= 10 else { throw ReadError.truncated(expectedBytes: 10, actualBytes: bytes.count) }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw ReadError.truncated(expectedBytes: 12, actualBytes: bytes.count) }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw ReadError.unsupportedVersion(major)
        }
        guard data.count >= headerStart + headerLength else {
            throw ReadError.truncated(expectedBytes: headerStart + headerLength, actualBytes: data.count)
        }
        let start = data.startIndex + headerStart
        guard let text = String(data: data[start..<start + headerLength], encoding: major == 3 ? .utf8 : .isoLatin1)
        else { throw ReadError.malformedHeader("header is not text") }

        let descr = try stringValue(of: "descr", in: text)
        let fortran = try literalValue(of: "fortran_order", in: text)
        let shapeText = try tupleValue(of: "shape", in: text)

        guard descr.count >= 3, let order = descr.first else { throw ReadError.unsupportedType(descr) }
        let code = String(descr.dropFirst())
        guard let type = ElementType(rawValue: code) else { throw ReadError.unsupportedType(descr) }
        let bigEndian: Bool
        switch order {
        case "<", "|": bigEndian = false
        case ">": bigEndian = type.size > 1
        case "=": bigEndian = false  // native; every machine nfx runs on is little-endian
        default: throw ReadError.unsupportedType(descr)
        }
        guard fortran == "True" || fortran == "False" else {
            throw ReadError.malformedHeader("fortran_order is \(fortran)")
        }
        var shape: [Int] = []
        for part in shapeText.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let extent = Int(trimmed), extent >= 0 else {
                throw ReadError.malformedHeader("bad shape (\(shapeText))")
            }
            shape.append(extent)
        }
        return Header(elementType: type, bigEndian: bigEndian, fortranOrder: fortran == "True",
                      shape: shape, dataOffset: headerStart + headerLength)
    }

    /// Reads an `.npy` file and converts its values to Float64 in row-major order.
    public static func read(contentsOf url: URL) throws -> (array: NDArray<Double>, header: Header) {
        let data = try Data(contentsOf: url, options: .mappedIfSafe)
        return try decode(data)
    }

    public static func decode(_ data: Data) throws -> (array: NDArray<Double>, header: Header) {
        let header = try parseHeader(data)
        guard let count = checkedElementCount(header.shape),
              case let (expected, overflow) = count.multipliedReportingOverflow(by: header.elementType.size), !overflow
        else { throw ReadError.malformedHeader("shape \(header.shape) is too large") }
        let available = data.count - header.dataOffset
        guard available >= expected else { throw ReadError.truncated(expectedBytes: expected, actualBytes: available) }

        var values = [Double](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress!.advanced(by: header.dataOffset)
            let swap = header.bigEndian
            values.withUnsafeMutableBufferPointer { out in
                switch header.elementType {
                case .float64: convert(base, count, swap, out) { (bits: UInt64) in Double(bitPattern: bits) }
                case .float32: convert(base, count, swap, out) { (bits: UInt32) in Double(Float(bitPattern: bits)) }
                case .int8: convert(base, count, false, out) { (bits: UInt8) in Double(Int8(bitPattern: bits)) }
                case .int16: convert(base, count, swap, out) { (bits: UInt16) in Double(Int16(bitPattern: bits)) }
                case .int32: convert(base, count, swap, out) { (bits: UInt32) in Double(Int32(bitPattern: bits)) }
                case .int64: convert(base, count, swap, out) { (bits: UInt64) in Double(Int64(bitPattern: bits)) }
                case .uint8: convert(base, count, false, out) { (bits: UInt8) in Double(bits) }
                case .uint16: convert(base, count, swap, out) { (bits: UInt16) in Double(bits) }
                case .uint32: convert(base, count, swap, out) { (bits: UInt32) in Double(bits) }
                case .uint64: convert(base, count, swap, out) { (bits: UInt64) in Double(bits) }
                }
            }
        }
        if header.fortranOrder && header.shape.count > 1 {
            // Fortran order is row-major order of the reversed shape.
            let reversed = NDArray(shape: Array(header.shape.reversed()), elements: values)
            return (reversed.reversedAxes(), header)
        }
        return (NDArray(shape: header.shape, elements: values), header)
    }

    private static func convert<Bits: FixedWidthInteger>(
        _ base: UnsafeRawPointer, _ count: Int, _ swap: Bool, _ out: UnsafeMutableBufferPointer<Double>,
        _ value: (Bits) -> Double
    ) {
        let size = MemoryLayout<Bits>.size
        for i in 0..<count {
            let raw = base.loadUnaligned(fromByteOffset: i * size, as: Bits.self)
            out[i] = value(swap ? raw.byteSwapped : Bits(littleEndian: raw))
        }
    }

    /// Writes a little-endian float64 `.npy`, byte for byte as `numpy.save` would. (The concrete overload lets
    /// `NPY.encode(NDArray(shape:elements: [0, 1]))` keep inferring Double for its literals.)
    public static func encode(_ array: NDArray<Double>) -> Data { encoded(array) }

    /// Writes a little-endian, C-order `.npy` of `array`'s element type (int32, int64, uint64, float32 or
    /// float64), byte for byte as `numpy.save` would.
    public static func encode<Element: NPYElement>(_ array: NDArray<Element>) -> Data { encoded(array) }

    private static func encoded<Element: NPYElement>(_ array: NDArray<Element>) -> Data {
        var data = header(for: Element.npyElementType, shape: array.shape)
        data.reserveCapacity(data.count + array.count * MemoryLayout<Element>.stride)
        #if _endian(little)
        array.elements.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        #else
        array.elements.map { $0.npyBitPattern.littleEndian }.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        #endif
        return data
    }

    /// The bytes before the data of a C-order `.npy` of `elementType` and `shape`, as numpy writes them (2.4.6 checked)
    /// (numpy/lib/format.py, `_write_array_header` and `_wrap_header`): version 1.0 unless the header needs more
    /// than 65 535 bytes (then 2.0, with a 4-byte length); the dictionary's keys sorted; spaces reserving room for
    /// the first axis to grow to 21 digits; then spaces and a final newline so the data starts on a 64-byte
    /// boundary — numpy pads by 1…64 bytes, a full 64 when the header is already aligned.
    public static func header(for elementType: ElementType, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(elementType.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        if let first = shape.first { text += String(repeating: " ", count: max(0, 21 - String(first).count)) }

        let alignment = 64
        var lengthFieldSize = 2
        var textLength = text.utf8.count + 1  // with the final newline
        var padding = alignment - (magic.count + 2 + lengthFieldSize + textLength) % alignment
        if textLength + padding > Int(UInt16.max) {
            lengthFieldSize = 4
            padding = alignment - (magic.count + 2 + lengthFieldSize + textLength) % alignment
        }
        text += String(repeating: " ", count: padding) + "\n"
        textLength = text.utf8.count

        var data = Data(magic + [lengthFieldSize == 2 ? 1 : 2, 0])
        let length = UInt32(textLength)
        data.append(contentsOf: (0..<lengthFieldSize).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) })
        data.append(contentsOf: Array(text.utf8))
        return data
    }

    // MARK: - The header's Python-literal dictionary

    private static func rawValue(of key: String, in text: String) throws -> Substring {
        guard let keyRange = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\""),
              let colon = text[keyRange.upperBound...].firstIndex(of: ":")
        else { throw ReadError.malformedHeader("no '\(key)' entry") }
        return text[text.index(after: colon)...].drop { $0 == " " }
    }

    private static func stringValue(of key: String, in text: String) throws -> String {
        let rest = try rawValue(of: key, in: text)
        guard let quote = rest.first, quote == "'" || quote == "\"" else {
            // A structured dtype is a list, not a string.
            throw ReadError.unsupportedType(String(rest.prefix(40)))
        }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: quote) else { throw ReadError.malformedHeader("unterminated '\(key)'") }
        return String(body[..<end])
    }

    private static func literalValue(of key: String, in text: String) throws -> String {
        let rest = try rawValue(of: key, in: text)
        return String(rest.prefix { $0.isLetter })
    }

    private static func tupleValue(of key: String, in text: String) throws -> String {
        let rest = try rawValue(of: key, in: text)
        guard rest.first == "(", let end = rest.firstIndex(of: ")") else {
            throw ReadError.malformedHeader("'\(key)' is not a tuple")
        }
        return String(rest[rest.index(after: rest.startIndex)..<end])
    }
}

/// An element type `NPY.encode` writes: one of numpy's fixed-size numbers.
public protocol NPYElement: Sendable {
    /// The same bits as an unsigned integer, to put them in little-endian order on a big-endian machine.
    associatedtype NPYBitPattern: FixedWidthInteger
    static var npyElementType: NPY.ElementType { get }
    var npyBitPattern: NPYBitPattern { get }
}

extension Int32: NPYElement {
    public static var npyElementType: NPY.ElementType { .int32 }
    public var npyBitPattern: UInt32 { UInt32(bitPattern: self) }
}

extension Int64: NPYElement {
    public static var npyElementType: NPY.ElementType { .int64 }
    public var npyBitPattern: UInt64 { UInt64(bitPattern: self) }
}

extension UInt64: NPYElement {
    public static var npyElementType: NPY.ElementType { .uint64 }
    public var npyBitPattern: UInt64 { self }
}

extension Float: NPYElement {
    public static var npyElementType: NPY.ElementType { .float32 }
    public var npyBitPattern: UInt32 { bitPattern }
}

extension Double: NPYElement {
    public static var npyElementType: NPY.ElementType { .float64 }
    public var npyBitPattern: UInt64 { bitPattern }
}
