import XCTest
import LinearAlgebra
import NFXCore
@testable import Simulation

final class TensorSimulationTests: XCTestCase {
    private func cpSum(_ factors: [Matrix]) -> [Double] {
        let (A, B, C) = (factors[0], factors[1], factors[2])
        var values: [Double] = []
        for i in 0..<A.rows {
            for j in 0..<B.rows {
                for k in 0..<C.rows {
                    values.append((0..<A.columns).reduce(0) { $0 + A[i, $1] * B[j, $1] * C[k, $1] })
                }
            }
        }
        return values
    }

    func testShapesAndNonNegativity() throws {
        let result = try TensorSimulation(units: 12, time: 20, trials: 7, rank: 3).generate()
        XCTAssertEqual(result.data.shape, [12, 20, 7])
        XCTAssertEqual(result.factors.map { [$0.rows, $0.columns] }, [[12, 3], [20, 3], [7, 3]])
        XCTAssert(result.data.elements.allSatisfy { $0 >= 0 && $0.isFinite })
        for factor in result.factors { XCTAssert(factor.elements.allSatisfy { $0 >= 0 }) }
        for r in 0..<3 { XCTAssert(result.factors[0].column(r).contains { $0 > 0 }) }
        XCTAssert(result.factors[2].elements.allSatisfy { $0 >= 0.2 - 1e-12 }, "trial factors stay ≥ 0.2")
    }

    func testWithoutNoiseDataIsTheCPSumInRowMajorOrder() throws {
        let result = try TensorSimulation(units: 9, time: 15, trials: 6, rank: 5, noise: 0, seed: 2).generate()
        XCTAssertLessThan(maxAbsDifference(result.data.elements, cpSum(result.factors)), 1e-12)
    }

    func testTimeFactorsPeakAtDistinctLatencies() throws {
        let result = try TensorSimulation(time: 100, rank: 4, seed: 8).generate()
        let peaks = (0..<4).map { r -> Int in
            let column = result.factors[1].column(r)
            return column.indices.max { column[$0] < column[$1] }!
        }
        XCTAssertEqual(Set(peaks).count, 4, "latencies \(peaks)")
    }

    func testSameSeedGivesIdenticalBitsAndOtherSeedsDiffer() throws {
        let a = try TensorSimulation(seed: 5).generate(), b = try TensorSimulation(seed: 5).generate()
        let c = try TensorSimulation(seed: 6).generate()
        XCTAssertEqual(a.data, b.data)
        XCTAssertEqual(a.factors, b.factors)
        XCTAssertNotEqual(a.data, c.data)
    }

    func testNoiseLevelIsTheRequestedFractionOfTheSignalStd() throws {
        let noise = 0.2
        let result = try TensorSimulation(units: 60, time: 100, trials: 30, rank: 3, noise: noise, seed: 1).generate()
        let clean = cpSum(result.factors)
        let sigma = noise * populationStd(clean)
        let residuals = zip(result.data.elements, clean).filter { $0.1 > 4 * sigma }.map { $0.0 - $0.1 }
        XCTAssertGreaterThan(residuals.count, 1000)
        XCTAssertEqual(populationStd(residuals), sigma, accuracy: 0.1 * sigma)
    }

    func testInvalidParametersAreRejectedNamingTheFlag() {
        assertRejects("--units") { _ = try TensorSimulation(units: 0).generate() }
        assertRejects("--time") { _ = try TensorSimulation(time: 0).generate() }
        assertRejects("--trials") { _ = try TensorSimulation(trials: 0).generate() }
        assertRejects("--rank") { _ = try TensorSimulation(units: 5, rank: 6).generate() }
        assertRejects("--rank") { _ = try TensorSimulation(rank: 0).generate() }
        assertRejects("--noise") { _ = try TensorSimulation(noise: .infinity).generate() }
    }
}
