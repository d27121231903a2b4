import XCTest
import LinearAlgebra

final class BLASTests: XCTestCase {
    private let A = Matrix([[1, 2, 3], [4, 5, 6]])
    private let B = Matrix([[7, 8], [9, 10], [11, 12]])
    private let AB = Matrix([[58, 64], [139, 154]])

    func testDotMatchesHandComputedSum() {
        XCTAssertEqual(dot([1, 2, 3], [4, -5, 6]), 12, accuracy: 0)
        XCTAssertEqual(dot([], []), 0)
    }

    func testNorm2MatchesPythagorasWithoutOverflow() {
        XCTAssertEqual(norm2([3, 4]), 5, accuracy: 1e-15)
        XCTAssertEqual(norm2([3e200, 4e200]), 5e200, accuracy: 1e186)
        XCTAssertEqual(norm2([]), 0)
    }

    func testAxpyAddsScaledVector() {
        var y: [Double] = [10, 20, 30]
        axpy(alpha: 2, x: [1, 2, 3], y: &y)
        XCTAssertEqual(y, [12, 24, 36])
    }

    func testScaleMultipliesEveryElement() {
        var x: [Double] = [1, -2, 0.5]
        scale(&x, by: -4)
        XCTAssertEqual(x, [-4, 8, -2])
    }

    func testMatrixVectorProductMatchesHandComputedValues() throws {
        XCTAssertEqual(try multiply(A, [1, 0, -1]), [-2, -2])
        XCTAssertEqual(try multiply(A, [1, 2], transposeA: true), [9, 12, 15])
    }

    func testGemvAccumulatesWithAlphaAndBeta() throws {
        var y: [Double] = [1, 1]
        try gemv(alpha: 2, A, [1, 0, -1], beta: 3, into: &y)
        XCTAssertEqual(y, [-1, -1])
    }

    func testMultiplyMatchesHandComputedProductForEveryTransposeCombination() throws {
        assertMatrix(try multiply(A, B), equals: AB, accuracy: 0)
        assertMatrix(try multiply(A.transposed, B, transposeA: true), equals: AB, accuracy: 0)
        assertMatrix(try multiply(A, B.transposed, transposeB: true), equals: AB, accuracy: 0)
        assertMatrix(try multiply(A.transposed, B.transposed, transposeA: true, transposeB: true),
                     equals: AB, accuracy: 0)
        // BA is 3 × 3 and differs from AB, so a swapped operand order cannot pass.
        assertMatrix(try multiply(B, A),
                     equals: Matrix([[39, 54, 69], [49, 68, 87], [59, 82, 105]]), accuracy: 0)
    }

    func testGemmAccumulatesIntoExistingMatrix() throws {
        var C = Matrix(rows: 2, columns: 2, repeating: 1)
        try gemm(alpha: 2, A, B, beta: -1, into: &C)
        assertMatrix(C, equals: Matrix([[115, 127], [277, 307]]), accuracy: 0)
    }

    func testRawGemmMultipliesColumnBlockOfLargerBuffer() throws {
        // A 2 × 4 buffer; columns 1...3 form [[2, 3, 4], [6, 7, 8]], multiplied by B (3 × 2).
        let buffer: [Double] = [1, 2, 3, 4,
                                5, 6, 7, 8]
        var C = [Double](repeating: -1, count: 2 * 2)
        try buffer.withUnsafeBufferPointer { a in
            try B.elements.withUnsafeBufferPointer { b in
                try C.withUnsafeMutableBufferPointer { c in
                    try gemm(transposeA: false, transposeB: false, rows: 2, columns: 2, inner: 3, alpha: 1,
                             a.baseAddress! + 1, leadingDimensionA: 4, b.baseAddress!, leadingDimensionB: 2,
                             beta: 0, c.baseAddress!, leadingDimensionC: 2)
                }
            }
        }
        // [[2·7 + 3·9 + 4·11, 2·8 + 3·10 + 4·12], [6·7 + 7·9 + 8·11, 6·8 + 7·10 + 8·12]]
        XCTAssertEqual(C, [85, 94, 193, 214])
    }

    func testRawGemmRejectsLeadingDimensionSmallerThanStoredColumns() {
        let a = [Double](repeating: 0, count: 8), b = a
        var c = a
        XCTAssertThrowsError(try c.withUnsafeMutableBufferPointer { c in
            try gemm(transposeA: false, transposeB: false, rows: 2, columns: 2, inner: 3, alpha: 1,
                     a, leadingDimensionA: 2, b, leadingDimensionB: 2, beta: 0, c.baseAddress!, leadingDimensionC: 2)
        }) { error in
            guard case .dimensionMismatch = error as? LinearAlgebraError else {
                return XCTFail("expected dimensionMismatch, got \(error)")
            }
        }
    }

    func testDimensionAboveInt32MaxThrowsTooLargeBeforeCallingBLAS() {
        let huge = Int(Int32.max) + 1
        let a: [Double] = [0], b: [Double] = [0]
        var c: [Double] = [0]
        XCTAssertThrowsError(try c.withUnsafeMutableBufferPointer { c in
            try gemm(transposeA: false, transposeB: false, rows: huge, columns: 1, inner: 1, alpha: 1,
                     a, leadingDimensionA: 1, b, leadingDimensionB: 1, beta: 0, c.baseAddress!, leadingDimensionC: 1)
        }) { error in
            XCTAssertEqual(error as? LinearAlgebraError,
                           .tooLargeForBLAS(operation: "gemm (cblas_dgemm)", dimension: huge))
            XCTAssertTrue(String(describing: error).contains("smaller blocks"))
        }
    }

    func testGramFillsBothTrianglesForEitherOrientation() throws {
        let X = Matrix([[1, 2], [3, 4], [5, 6]])
        assertMatrix(try gram(X, transpose: true), equals: Matrix([[35, 44], [44, 56]]), accuracy: 0)
        assertMatrix(try gram(X, transpose: false),
                     equals: Matrix([[5, 11, 17], [11, 25, 39], [17, 39, 61]]), accuracy: 0)
    }

    func testMismatchedShapesThrowDimensionMismatch() {
        XCTAssertThrowsError(try multiply(A, A)) { error in
            guard case .dimensionMismatch(let detail) = error as? LinearAlgebraError else {
                return XCTFail("expected dimensionMismatch, got \(error)")
            }
            XCTAssertTrue(detail.contains("2 × 3"), detail)
        }
        XCTAssertThrowsError(try multiply(A, [1, 2]))
        var wrongShape = Matrix(rows: 3, columns: 3)
        XCTAssertThrowsError(try gemm(A, B, into: &wrongShape))
    }

    func testEmptyInnerDimensionGivesZeroProductAndScalesC() throws {
        let empty = try multiply(Matrix(rows: 2, columns: 0), Matrix(rows: 0, columns: 3))
        assertMatrix(empty, equals: Matrix(rows: 2, columns: 3), accuracy: 0)
        var C = Matrix(rows: 2, columns: 3, repeating: 2)
        try gemm(Matrix(rows: 2, columns: 0), Matrix(rows: 0, columns: 3), beta: 0.5, into: &C)
        assertMatrix(C, equals: Matrix(rows: 2, columns: 3, repeating: 1), accuracy: 0)
    }
}
