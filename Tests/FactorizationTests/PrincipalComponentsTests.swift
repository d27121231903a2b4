import LinearAlgebra
import NFXCore
import XCTest
@testable import Factorization

final class PrincipalComponentsTests: XCTestCase {
    /// rows × columns with singular values 2^-i around random row means: a decaying spectrum.
    func decayingSpectrum(rows: Int, columns: Int, seed: UInt64) throws -> [Double] {
        var generator = SeededGenerator(seed: seed)
        let size = min(rows, columns)
        let U = try orthonormalBasis(Matrix(rows: rows, columns: size, elements: (0..<(rows * size)).map { _ in generator.normal() }))
        let V = try orthonormalBasis(Matrix(rows: columns, columns: size, elements: (0..<(columns * size)).map { _ in generator.normal() }))
        var scaled = U
        for i in 0..<rows { for j in 0..<size { scaled[i, j] *= 100 * pow(0.5, Double(j)) } }
        var data = try multiply(scaled, V, transposeB: true).elements
        for row in 0..<rows {
            let mean = generator.normal() * 3
            for column in 0..<columns { data[row * columns + column] += mean }
        }
        return data
    }

    func testExactPCAMatchesLAPACKOnTheCentredMatrix() throws {
        let (rows, columns) = (40, 90)
        var generator = SeededGenerator(seed: 2)
        var data = (0..<(rows * columns)).map { _ in generator.normal() + 1 }
        let original = data
        let result = try PrincipalComponents.fit(&data, rows: rows, columns: columns, options: PCAOptions(rank: 5, solver: .exact))
        XCTAssertEqual(data, original)
        var centred = Matrix(rows: rows, columns: columns, elements: original)
        for row in 0..<rows {
            let mean = (0..<columns).reduce(0.0) { $0 + centred[row, $1] } / Double(columns)
            XCTAssertEqual(result.mean[row], mean, accuracy: 1e-12)
            for column in 0..<columns { centred[row, column] -= mean }
        }
        let (U, s, Vt) = try svd(centred)
        for component in 0..<5 {
            XCTAssertEqual(result.singularValues[component], s[component], accuracy: 1e-10 * s[0])
            // Axes agree up to sign; scores are s·v.
            let sign = (0..<rows).reduce(0.0) { $0 + U[$1, component] * result.factorization.W[$1, component] } > 0 ? 1.0 : -1.0
            for i in 0..<rows { XCTAssertEqual(result.factorization.W[i, component], sign * U[i, component], accuracy: 1e-10) }
            for t in 0..<columns {
                XCTAssertEqual(result.factorization.H[component, t], sign * s[component] * Vt[component, t], accuracy: 1e-10 * s[0])
            }
        }
        let total = s.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(result.explainedVarianceRatio[0], s[0] * s[0] / total, accuracy: 1e-12)
        XCTAssertEqual(result.explainedVariance[0], s[0] * s[0] / Double(columns - 1), accuracy: 1e-9)
    }

    func testRandomizedPCAMatchesExactOnADecayingSpectrum() throws {
        let (rows, columns) = (300, 500)
        var data = try decayingSpectrum(rows: rows, columns: columns, seed: 5)
        let exact = try PrincipalComponents.fit(&data, rows: rows, columns: columns, options: PCAOptions(rank: 8, solver: .exact))
        let randomized = try PrincipalComponents.fit(&data, rows: rows, columns: columns, options: PCAOptions(
            rank: 8, solver: .randomized, powerIterations: 7))
        XCTAssertLessThan(relativeDifference(randomized.singularValues, exact.singularValues), 1e-6)
        XCTAssertLessThan(relativeDifference(randomized.factorization.W.elements, exact.factorization.W.elements), 1e-6)
        XCTAssertLessThan(relativeDifference(randomized.factorization.H.elements, exact.factorization.H.elements), 1e-6)
    }

    func testSinglePrecisionRandomizedPCAAgreesWithDouble() throws {
        let (rows, columns) = (200, 300)
        let data = try decayingSpectrum(rows: rows, columns: columns, seed: 6)
        var double = data
        var single = data.map { Float($0) }
        let options = PCAOptions(rank: 4, solver: .randomized)
        let a = try PrincipalComponents.fit(&double, rows: rows, columns: columns, options: options)
        let b = try PrincipalComponents.fit(&single, rows: rows, columns: columns, options: options)
        XCTAssertLessThan(relativeDifference(b.singularValues, a.singularValues), 1e-5)
    }

    func testMissingEntriesAreFilledByTheLowRankModel() throws {
        // Exactly rank 3 plus means: with 15 % of entries missing, EM-PCA recovers them and the axes.
        let (rows, columns) = (50, 120)
        var generator = SeededGenerator(seed: 8)
        let W = Matrix(rows: rows, columns: 3, elements: (0..<(rows * 3)).map { _ in generator.normal() })
        let H = Matrix(rows: 3, columns: columns, elements: (0..<(3 * columns)).map { _ in generator.normal() })
        var complete = try multiply(W, H).elements
        for row in 0..<rows { for column in 0..<columns { complete[row * columns + column] += Double(row) } }
        var full = complete
        let reference = try PrincipalComponents.fit(&full, rows: rows, columns: columns, options: PCAOptions(rank: 3, solver: .exact))
        var masked = complete
        for index in masked.indices where generator.uniform(in: 0..<1) < 0.15 { masked[index] = .nan }
        let result = try PrincipalComponents.fit(&masked, rows: rows, columns: columns, options: PCAOptions(
            rank: 3, solver: .exact, maxIterations: 2000, tolerance: 1e-14))
        XCTAssertLessThan(result.factorization.relativeError, 1e-5)
        XCTAssertGreaterThan(matchedCosine(result.factorization.W, reference.factorization.W, columnsAreComponents: true), 0.9999)
        for (before, after) in zip(result.factorization.objective, result.factorization.objective.dropFirst()) {
            XCTAssertLessThanOrEqual(after, before * (1 + 1e-9) + 1e-12)
        }
    }

    func testAutoChoosesExactForModerateSizesAndRandomizedForLargeOnes() {
        XCTAssertEqual(PCAOptions(rank: 10).resolvedSolver(rows: 500, columns: 5000), .exact)
        XCTAssertEqual(PCAOptions(rank: 10).resolvedSolver(rows: 10_000, columns: 5000), .randomized)
        XCTAssertEqual(PCAOptions(rank: 1500).resolvedSolver(rows: 10_000, columns: 5000), .exact)
    }
}
