import XCTest
import LinearAlgebra

func assertMatrix(_ actual: Matrix, equals expected: Matrix, accuracy: Double,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.rows, expected.rows, "rows", file: file, line: line)
    XCTAssertEqual(actual.columns, expected.columns, "columns", file: file, line: line)
    guard actual.rows == expected.rows, actual.columns == expected.columns else { return }
    for i in actual.elements.indices {
        XCTAssertEqual(actual.elements[i], expected.elements[i], accuracy: accuracy,
                       "element (\(i / max(1, actual.columns)), \(i % max(1, actual.columns)))",
                       file: file, line: line)
    }
}

func assertVector(_ actual: [Double], equals expected: [Double], accuracy: Double,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "length", file: file, line: line)
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        XCTAssertEqual(a, e, accuracy: accuracy, "element \(index)", file: file, line: line)
    }
}

func assertThrows<T>(_ expected: LinearAlgebraError, _ body: @autoclosure () throws -> T,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? LinearAlgebraError, expected, file: file, line: line)
    }
}

/// Deterministic entries in [-1, 1) from a linear congruential generator, so failures reproduce.
func pseudoRandomMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
    var state = seed
    let elements = (0..<(rows * columns)).map { _ -> Double in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * 2 - 1
    }
    return Matrix(rows: rows, columns: columns, elements: elements)
}

func diagonal(_ values: [Double], rows: Int, columns: Int) -> Matrix {
    var matrix = Matrix(rows: rows, columns: columns)
    for (i, value) in values.enumerated() { matrix[i, i] = value }
    return matrix
}
