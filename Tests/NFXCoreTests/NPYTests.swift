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
}
