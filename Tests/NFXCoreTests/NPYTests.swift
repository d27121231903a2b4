import Foundation
import XCTest
@testable import NFXCore

/// Reads files written by numpy.save (Tests/NFXCoreTests/Fixtures, made by Scripts/fixtures/make_fixtures.py).
final class NPYTests: XCTestCase {
    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    func testReadsNumpyFloat64InCOrder() throws {
        let (array, header) = try NPY.read(contentsOf: fixture("c_float64.npy"))
        XCTAssertEqual(header.elementType, .float64)
        XCTAssertFalse(header.fortranOrder)
        XCTAssertEqual(array.shape, [3, 4])
        XCTAssertEqual(array.elements, (0..<12).map { Double($0) / 8 })
    }

    func testReadsFortranOrderAsRowMajor() throws {
        let (array, header) = try NPY.read(contentsOf: fixture("fortran_float32.npy"))
        XCTAssertTrue(header.fortranOrder)
        XCTAssertEqual(header.elementType, .float32)
        XCTAssertEqual(array.shape, [3, 4])
        XCTAssertEqual(array.elements, (0..<12).map(Double.init))
    }

    func testReadsSignedInt16() throws {
        let (array, _) = try NPY.read(contentsOf: fixture("int16.npy"))
        XCTAssertEqual(array.shape, [2, 3])
        XCTAssertEqual(array.elements, [-3, -2, -1, 0, 1, 2])
    }

    func testReadsBigEndianBySwappingBytes() throws {
        let (array, header) = try NPY.read(contentsOf: fixture("big_endian_int32.npy"))
        XCTAssertTrue(header.bigEndian)
        XCTAssertEqual(array.elements, [0, 1, 2, 3])
    }

    func testRefusesPickledObjectArrays() throws {
        XCTAssertThrowsError(try NPY.read(contentsOf: fixture("object.npy"))) { error in
            XCTAssertTrue("\(error)".contains("Python objects"), "\(error)")
        }
    }

    func testEncodeThenDecodeRoundTrips() throws {
        let array = NDArray(shape: [2, 5], elements: (0..<10).map { Double($0) * 1.5 - 3 })
        let data = NPY.encode(array)
        XCTAssertEqual((data.count - array.count * 8) % 64, 0, "header must pad data to 64 bytes")
        let (decoded, _) = try NPY.decode(data)
        XCTAssertEqual(decoded, array)
    }

    func testTruncatedDataIsReported() throws {
        let data = NPY.encode(NDArray(shape: [4, 4], elements: Array(repeating: 1, count: 16)))
        XCTAssertThrowsError(try NPY.decode(data.prefix(data.count - 8))) { error in
            guard case NPY.ReadError.truncated(let expected, let actual) = error else {
                return XCTFail("expected truncated, got \(error)")
            }
            XCTAssertEqual(expected, 128)
            XCTAssertEqual(actual, 120)
        }
    }

    func testNonNPYIsRecognised() {
        XCTAssertThrowsError(try NPY.decode(Data("hello world, not numpy".utf8))) { error in
            XCTAssertEqual(error as? NPY.ReadError, .notNPY)
        }
    }
    // MARK: - Typed encoding

    func testTypedEncodeThenDecodeRoundTrips() throws {
        let int32 = NDArray<Int32>(shape: [2, 3], elements: [-3, -2, -1, 0, 1, .max])
        let int64 = NDArray<Int64>(shape: [4], elements: [-(1 << 40), 0, 7, 1 << 52])
        let uint64 = NDArray<UInt64>(shape: [1, 2], elements: [0, 1 << 53])
        let float32 = NDArray<Float>(shape: [2, 1, 2], elements: [0.5, -2, 1e-3, 3e8])
        let float64 = NDArray<Double>(shape: [3], elements: [.pi, -0.0, 1e-300])

        func check<Element: NPYElement & ExactlyRepresentableAsDouble>(
            _ array: NDArray<Element>, _ type: NPY.ElementType, line: UInt = #line
        ) throws {
            let data = NPY.encode(array)
            XCTAssertEqual((data.count - array.count * type.size) % 64, 0, "data must start on a 64-byte boundary",
                           line: line)
            let (decoded, header) = try NPY.decode(data)
            XCTAssertEqual(header.elementType, type, line: line)
            XCTAssertFalse(header.bigEndian, line: line)
            XCTAssertFalse(header.fortranOrder, line: line)
            XCTAssertEqual(decoded.shape, array.shape, line: line)
            XCTAssertEqual(decoded.elements, array.elements.map(\.asDouble), line: line)
        }
        try check(int32, .int32)
        try check(int64, .int64)
        try check(uint64, .uint64)
        try check(float32, .float32)
        try check(float64, .float64)
    }

    /// Expected bytes are numpy 2.4.6's, from
    /// `.bench-venv/bin/python -c 'import numpy as np, io; b = io.BytesIO(); np.save(b, A); print(b.getvalue().hex())'`
    /// with A as named in each case.
    func testTypedEncodeWritesNumpysExactBytes() {
        // Each header is `{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }`, 21 − (digits of the first
        // extent) spaces of room for that axis to grow, then spaces and a newline up to a multiple of 64 bytes.
        let cases: [(name: String, encoded: Data, hex: String)] = [
            ("np.array([-1, 0, 2**31 - 1], dtype=np.int32)",
             NPY.encode(NDArray<Int32>(shape: [3], elements: [-1, 0, .max])),
             "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028332c292c207d202020202020202020202020202020202020202020202020202020202020202020"
                + "2020202020202020202020202020202020202020202020202020200affffffff00000000ffffff7f"),
            ("np.array([-(2**40), 7], dtype=np.int64)",
             NPY.encode(NDArray<Int64>(shape: [2], elements: [-(1 << 40), 7])),
             "934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020"
                + "2020202020202020202020202020202020202020202020202020200a0000000000ffffff0700000000000000"),
            ("np.array([2**63 + 5, 1], dtype=np.uint64)",
             NPY.encode(NDArray<UInt64>(shape: [2], elements: [(1 << 63) + 5, 1])),
             "934e554d5059010076007b276465736372273a20273c7538272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020"
                + "2020202020202020202020202020202020202020202020202020200a05000000000000800100000000000000"),
            ("np.array([[1.5, -2], [0, 3]], dtype=np.float32)",
             NPY.encode(NDArray<Float>(shape: [2, 2], elements: [1.5, -2, 0, 3])),
             "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028322c2032292c207d20202020202020202020202020202020202020202020202020202020202020"
                + "2020202020202020202020202020202020202020202020202020200a0000c03f000000c00000000000004040"),
            ("np.array([1.0, -0.25], dtype=np.float64)",
             NPY.encode(NDArray<Double>(shape: [2], elements: [1, -0.25])),
             "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020"
                + "2020202020202020202020202020202020202020202020202020200a000000000000f03f000000000000d0bf"),
            // A header that is already 64-byte aligned before padding: numpy pads by a full 64, not 0.
            ("np.zeros((0, 1, 1, 1, 10, 10000, 10000, 10000, 10000))",
             NPY.encode(NDArray<Double>(shape: [0, 1, 1, 1, 10, 10000, 10000, 10000, 10000], elements: [])),
             "934e554d50590100b6007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028302c20312c20312c20312c2031302c2031303030302c2031303030302c2031303030302c203130"
                + "303030292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020"
                + "20202020202020202020202020202020202020202020202020202020202020202020202020202020200a"),
        ]
        for (name, encoded, hex) in cases {
            XCTAssertEqual(encoded.map { String(format: "%02x", $0) }.joined(), hex, name)
        }
    }
}

/// Test support: the decoder's Float64 view of each encodable element type (exact for the values used here).
protocol ExactlyRepresentableAsDouble { var asDouble: Double { get } }
extension Int32: ExactlyRepresentableAsDouble { var asDouble: Double { Double(self) } }
extension Int64: ExactlyRepresentableAsDouble { var asDouble: Double { Double(self) } }
extension UInt64: ExactlyRepresentableAsDouble { var asDouble: Double { Double(self) } }
extension Float: ExactlyRepresentableAsDouble { var asDouble: Double { Double(self) } }
extension Double: ExactlyRepresentableAsDouble { var asDouble: Double { self } }
