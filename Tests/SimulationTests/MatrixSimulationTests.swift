import XCTest
import LinearAlgebra
@testable import Simulation

final class MatrixSimulationTests: XCTestCase {
    func testShapesAndNonNegativity() throws {
        let result = try MatrixSimulation(units: 30, time: 80, rank: 4).generate()
        XCTAssertEqual([result.data.rows, result.data.columns], [30, 80])
        XCTAssertEqual([result.W.rows, result.W.columns], [30, 4])
        XCTAssertEqual([result.H.rows, result.H.columns], [4, 80])
        for m in [result.data, result.W, result.H] { XCTAssert(m.elements.allSatisfy { $0 >= 0 && $0.isFinite }) }
    }

    func testEveryComponentIsPresentInBothFactors() throws {
        // rank == units is the tightest case for the ensemble assignment.
        let result = try MatrixSimulation(units: 6, time: 40, rank: 6, seed: 3).generate()
        for r in 0..<6 {
            XCTAssert(result.W.column(r).contains { $0 > 0 }, "W column \(r) is empty")
            XCTAssert(result.H.row(r).contains { $0 > 0 }, "H row \(r) is empty")
        }
    }

    func testSameSeedGivesIdenticalBitsAndOtherSeedsDiffer() throws {
        let a = try MatrixSimulation(seed: 1).generate(), b = try MatrixSimulation(seed: 1).generate()
        let c = try MatrixSimulation(seed: 2).generate()
        XCTAssertEqual(a.data, b.data)
        XCTAssertEqual(a.W, b.W)
        XCTAssertEqual(a.H, b.H)
        XCTAssertNotEqual(a.data, c.data)
        XCTAssertNotEqual(a.W, c.W)
    }

    func testWithoutNoiseDataIsTheProductAndTheTruthDoesNotDependOnNoise() throws {
        let clean = try MatrixSimulation(units: 40, time: 120, rank: 3, noise: 0, seed: 4).generate()
        XCTAssertLessThan(maxAbsDifference(clean.data.elements, naiveProduct(clean.W, clean.H).elements), 1e-12)
        let noisy = try MatrixSimulation(units: 40, time: 120, rank: 3, noise: 0.5, seed: 4).generate()
        XCTAssertEqual(noisy.W, clean.W)
        XCTAssertEqual(noisy.H, clean.H)
        XCTAssertNotEqual(noisy.data, clean.data)
    }

    /// Measured where the clean value is far above the noise, so the clip at zero does not shrink the residual.
    func testNoiseLevelIsTheRequestedFractionOfTheSignalStd() throws {
        let noise = 0.1
        let result = try MatrixSimulation(units: 200, time: 500, rank: 5, noise: noise, seed: 6).generate()
        let clean = naiveProduct(result.W, result.H).elements
        let sigma = noise * populationStd(clean)
        let residuals = zip(result.data.elements, clean).filter { $0.1 > 4 * sigma }.map { $0.0 - $0.1 }
        XCTAssertGreaterThan(residuals.count, 1000)
        XCTAssertEqual(populationStd(residuals), sigma, accuracy: 0.1 * sigma)
    }

    func testInvalidParametersAreRejectedNamingTheFlag() {
        assertRejects("--units") { _ = try MatrixSimulation(units: 0).generate() }
        assertRejects("--time") { _ = try MatrixSimulation(time: -1).generate() }
        assertRejects("--rank") { _ = try MatrixSimulation(rank: 0).generate() }
        assertRejects("--rank") { _ = try MatrixSimulation(units: 10, time: 500, rank: 11).generate() }
        assertRejects("--noise") { _ = try MatrixSimulation(noise: -0.1).generate() }
        assertRejects("--noise") { _ = try MatrixSimulation(noise: .nan).generate() }
        assertRejects("--units × --time") { _ = try MatrixSimulation(units: 1 << 20, time: 1 << 20).generate() }
    }
}
