import XCTest
import LinearAlgebra

final class SolverTests: XCTestCase {
    func testSolveKnownSystem() throws {
        let A = Matrix([[2, 1], [1, 3]])
        assertVector(try solve(A, [3, 5]), equals: [0.8, 1.4], accuracy: 1e-15)
        let X = try solve(A, Matrix([[3, 1], [5, 0]]))
        assertMatrix(X, equals: Matrix([[0.8, 0.6], [1.4, -0.2]]), accuracy: 1e-15)
    }

    func testSolveThrowsSingularForExactlyAndNumericallySingularMatrices() {
        let operation = "solve (LAPACKE_dgesv)"
        assertThrows(.singular(operation: operation), try solve(Matrix([[1, 2], [2, 4]]), [1, 2]))
        assertThrows(.singular(operation: operation),
                     try solve(Matrix([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), [1, 2, 3]))
        // Rank 2, but rounding of 0.1…0.9 leaves a last pivot of 1.1e-16 rather than zero, so only the
        // rcond check (rcond ≈ 1.5e-17 < ε) catches it.
        assertThrows(.singular(operation: operation),
                     try solve(Matrix([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]), [1, 2, 3]))
        assertThrows(.dimensionMismatch("\(operation): A is 2 × 2 but B has 3 rows"),
                     try solve(Matrix([[1, 0], [0, 1]]), [1, 2, 3]))
    }

    func testSolveSymmetricPositiveDefiniteMatchesGeneralSolve() throws {
        let A = Matrix([[4, 2], [2, 3]])
        let B = Matrix([[2], [1]])
        assertMatrix(try solveSymmetricPositiveDefinite(A, B), equals: Matrix([[0.5], [0]]), accuracy: 1e-15)
        let S = try gram(pseudoRandomMatrix(rows: 10, columns: 4, seed: 5), transpose: true)
        let R = pseudoRandomMatrix(rows: 4, columns: 2, seed: 6)
        assertMatrix(try solveSymmetricPositiveDefinite(S, R), equals: try solve(S, R), accuracy: 1e-10)
        assertThrows(.notPositiveDefinite(minorOrder: 2),
                     try solveSymmetricPositiveDefinite(Matrix([[1, 2], [2, 1]]), B))
    }

    func testLeastSquaresMatchesNormalEquationsOnOverdeterminedSystem() throws {
        let A = pseudoRandomMatrix(rows: 8, columns: 3, seed: 21)
        let b = pseudoRandomMatrix(rows: 8, columns: 2, seed: 22)
        let x = try leastSquares(A, b)
        let normal = try solve(try gram(A, transpose: true), try multiply(A, b, transposeA: true))
        XCTAssertEqual(x.rows, 3); XCTAssertEqual(x.columns, 2)
        assertMatrix(x, equals: normal, accuracy: 1e-12)
    }

    func testLeastSquaresReturnsMinimumNormSolutionWhenUnderdeterminedOrRankDeficient() throws {
        assertMatrix(try leastSquares(Matrix([[1, 1]]), Matrix([[2]])), equals: Matrix([[1], [1]]),
                     accuracy: 1e-14)
        // Both columns equal: x₁ + x₂ must be the mean 2, and the minimum-norm split is (1, 1).
        assertMatrix(try leastSquares(Matrix([[1, 1], [1, 1], [1, 1]]), Matrix([[1], [2], [3]])),
                     equals: Matrix([[1], [1]]), accuracy: 1e-13)
        XCTAssertThrowsError(try leastSquares(Matrix([[1, 1]]), Matrix([[1], [2]])))
    }

    func testInverseTimesMatrixIsIdentity() throws {
        let A = pseudoRandomMatrix(rows: 5, columns: 5, seed: 9)
        assertMatrix(try multiply(try inverse(A), A), equals: .identity(5), accuracy: 1e-12)
        assertMatrix(try inverse(Matrix([[4, 7], [2, 6]])), equals: Matrix([[0.6, -0.7], [-0.2, 0.4]]),
                     accuracy: 1e-15)
        assertThrows(.singular(operation: "inverse (LAPACKE_dgetri)"), try inverse(Matrix([[1, 2], [2, 4]])))
    }

    func testDeterminantOfKnownMatrices() throws {
        XCTAssertEqual(try determinant(Matrix([[1, 2], [3, 4]])), -2, accuracy: 1e-14)
        XCTAssertEqual(try determinant(Matrix([[0, 1], [1, 0]])), -1, accuracy: 0)
        XCTAssertEqual(try determinant(Matrix([[1, 2], [2, 4]])), 0)
        let (sign, logAbs) = try logDeterminant(diagonal([1e200, -1e200, 1e200], rows: 3, columns: 3))
        XCTAssertEqual(sign, -1)
        XCTAssertEqual(logAbs, 600 * log(10), accuracy: 1e-10)
    }
}
