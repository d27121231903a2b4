import XCTest
import LinearAlgebra
@testable import Simulation

/// Asserts that `body` throws a `SimulationError` whose message starts with `flag`.
func assertRejects(_ flag: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error naming \(flag)", file: file, line: line)
    } catch let error as SimulationError {
        XCTAssert(error.description.hasPrefix(flag), "message \"\(error)\" should start with \(flag)",
                  file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

func naiveProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
    var c = Matrix(rows: a.rows, columns: b.columns)
    for i in 0..<a.rows {
        for j in 0..<b.columns {
            var sum = 0.0
            for k in 0..<a.columns { sum += a[i, k] * b[k, j] }
            c[i, j] = sum
        }
    }
    return c
}

func populationStd(_ values: [Double]) -> Double {
    let mean = values.reduce(0, +) / Double(values.count)
    return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
}

func maxAbsDifference(_ x: [Double], _ y: [Double]) -> Double {
    precondition(x.count == y.count)
    return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
