import XCTest
import LinearAlgebra

final class DecompositionTests: XCTestCase {
    func testSVDReconstructsInputWithOrthonormalFactors() throws {
        for (rows, columns) in [(6, 4), (4, 6), (5, 5)] {
            let A = pseudoRandomMatrix(rows: rows, columns: columns, seed: UInt64(rows * 10 + columns))
            let (U, s, Vt) = try svd(A)
            let k = min(rows, columns)
            XCTAssertEqual(U.rows, rows); XCTAssertEqual(U.columns, k)
            XCTAssertEqual(Vt.rows, k); XCTAssertEqual(Vt.columns, columns)
            XCTAssertEqual(s, s.sorted(by: >), "singular values descending")
            let reconstructed = try multiply(try multiply(U, diagonal(s, rows: k, columns: k)), Vt)
            assertMatrix(reconstructed, equals: A, accuracy: 1e-12)
            assertMatrix(try multiply(U, U, transposeA: true), equals: .identity(k), accuracy: 1e-12)
            assertMatrix(try multiply(Vt, Vt, transposeB: true), equals: .identity(k), accuracy: 1e-12)
        }
    }

    func testSingularValuesOfKnownMatrices() throws {
        // AᵀA = [[25, 20], [20, 25]] has eigenvalues 45 and 5.
        assertVector(try singularValues(Matrix([[3, 0], [4, 5]])), equals: [45.squareRoot(), 5.squareRoot()],
                     accuracy: 1e-14)
        assertVector(try singularValues(diagonal([-2, 1, 3], rows: 4, columns: 3)), equals: [3, 2, 1],
                     accuracy: 1e-15)
        assertVector(try svd(Matrix([[3, 0], [4, 5]])).singularValues,
                     equals: [45.squareRoot(), 5.squareRoot()], accuracy: 1e-14)
    }

    func testNonFiniteInputThrowsInvalidArgument() {
        XCTAssertThrowsError(try svd(Matrix([[1, .nan], [0, 1]]))) { error in
            guard case .invalidArgument(_, -5) = error as? LinearAlgebraError else {
                return XCTFail("expected invalidArgument, got \(error)")
            }
            XCTAssertTrue(String(describing: error).contains("NaN"))
        }
    }

    func testSymmetricEigenOfKnownMatrixIsAscending() throws {
        let (values, vectors) = try symmetricEigen(Matrix([[2, 1], [1, 2]]))
        assertVector(values, equals: [1, 3], accuracy: 1e-14)
        let h = 0.5.squareRoot()
        XCTAssertEqual(abs(vectors[0, 1]), h, accuracy: 1e-14)
        XCTAssertEqual(vectors[0, 1], vectors[1, 1], accuracy: 1e-14, "eigenvector of 3 is ±(1, 1)/√2")
        XCTAssertEqual(vectors[0, 0], -vectors[1, 0], accuracy: 1e-14, "eigenvector of 1 is ±(1, −1)/√2")
    }

    func testSymmetricEigenvectorsSatisfyDefinition() throws {
        let X = pseudoRandomMatrix(rows: 7, columns: 5, seed: 3)
        let A = try gram(X, transpose: true)
        let (values, V) = try symmetricEigen(A)
        XCTAssertEqual(values, values.sorted())
        for j in 0..<5 {
            let v = V.column(j)
            assertVector(try multiply(A, v), equals: v.map { $0 * values[j] }, accuracy: 1e-12)
        }
        assertMatrix(try multiply(V, V, transposeA: true), equals: .identity(5), accuracy: 1e-12)
    }

    func testSymmetricEigenRejectsAsymmetricMatrix() {
        assertThrows(.notSymmetric(operation: "symmetricEigen (LAPACKE_dsyevd)"),
                     try symmetricEigen(Matrix([[1, 2], [0, 1]])))
    }

    func testRotationHasComplexConjugateEigenvalues() throws {
        let theta = 0.3
        let R = Matrix([[cos(theta), -sin(theta)], [sin(theta), cos(theta)]])
        let (real, imaginary) = try eigenvalues(R)
        assertVector(real, equals: [cos(theta), cos(theta)], accuracy: 1e-14)
        assertVector(imaginary, equals: [sin(theta), -sin(theta)], accuracy: 1e-14)

        // Packed vectors: v = column(0) + i·column(1) must satisfy R v = λ v with λ = cos θ + i sin θ.
        let (_, _, V) = try eigen(R)
        let vr = V.column(0), vi = V.column(1)
        let Rvr = try multiply(R, vr), Rvi = try multiply(R, vi)
        let c = cos(theta), s = sin(theta)
        assertVector(Rvr, equals: zip(vr, vi).map { c * $0 - s * $1 }, accuracy: 1e-14)
        assertVector(Rvi, equals: zip(vr, vi).map { s * $0 + c * $1 }, accuracy: 1e-14)
    }

    func testGeneralEigenOfTriangularMatrixIsItsDiagonal() throws {
        let (real, imaginary) = try eigenvalues(Matrix([[2, 1], [0, 3]]))
        assertVector(real.sorted(), equals: [2, 3], accuracy: 1e-14)
        assertVector(imaginary, equals: [0, 0], accuracy: 0)
        assertThrows(.dimensionMismatch("eigen (LAPACKE_dgeev) needs a square matrix, got 2 × 3"),
                     try eigenvalues(Matrix(rows: 2, columns: 3)))
    }

    func testCholeskyOfKnownMatrixReproducesInput() throws {
        let A = Matrix([[4, 2], [2, 3]])
        let L = try cholesky(A)
        assertMatrix(L, equals: Matrix([[2, 0], [1, 2.squareRoot()]]), accuracy: 1e-15)
        assertMatrix(try multiply(L, L, transposeB: true), equals: A, accuracy: 1e-14)

        let S = try gram(pseudoRandomMatrix(rows: 9, columns: 6, seed: 11), transpose: true)
        let LS = try cholesky(S)
        for i in 0..<6 { for j in (i + 1)..<6 { XCTAssertEqual(LS[i, j], 0) } }
        assertMatrix(try multiply(LS, LS, transposeB: true), equals: S, accuracy: 1e-12)
    }

    func testCholeskyOfIndefiniteMatrixThrowsNotPositiveDefinite() {
        assertThrows(.notPositiveDefinite(minorOrder: 2), try cholesky(Matrix([[1, 2], [2, 1]])))
        assertThrows(.notPositiveDefinite(minorOrder: 1), try cholesky(Matrix([[-1, 0], [0, 1]])))
    }
}
