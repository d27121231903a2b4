import XCTest
@testable import NFXCore

final class NDArrayTests: XCTestCase {
    func testSubscriptIsRowMajor() {
        let array = NDArray(shape: [2, 3, 4], elements: (0..<24).map(Double.init))
        XCTAssertEqual(array[1, 2, 3], 23)
        XCTAssertEqual(array[1, 0, 0], 12)
        XCTAssertEqual(array[0, 1, 0], 4)
        XCTAssertEqual(array.strides, [12, 4, 1])
    }

    func testReversedAxesOfMatrixIsTranspose() {
        let array = NDArray(shape: [2, 3], elements: [1, 2, 3, 4, 5, 6.0])
        let transposed = array.reversedAxes()
        XCTAssertEqual(transposed.shape, [3, 2])
        XCTAssertEqual(transposed.elements, [1, 4, 2, 5, 3, 6])
    }

    func testReversedAxesOfTensorMovesEveryElement() {
        let array = NDArray(shape: [2, 3, 4], elements: (0..<24).map(Double.init))
        let reversed = array.reversedAxes()
        XCTAssertEqual(reversed.shape, [4, 3, 2])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { XCTAssertEqual(reversed[k, j, i], array[i, j, k]) } } }
        XCTAssertEqual(reversed.reversedAxes(), array)
    }

    func testNonFiniteCountsSeparatesNaNFromInfinity() {
        let array = NDArray<Double>(shape: [5], elements: [1, .nan, .infinity, -.infinity, .nan])
        let counts = array.nonFiniteCounts()
        XCTAssertEqual(counts.nan, 2)
        XCTAssertEqual(counts.infinite, 2)
    }

    func testDescribeShape() {
        XCTAssertEqual(describeShape([3, 4, 5]), "3 × 4 × 5")
        XCTAssertEqual(describeShape([]), "scalar")
    }
}
