import LinearAlgebra
import NFXCore
import XCTest
@testable import Factorization

final class NonnegativeMatrixFactorizationTests: XCTestCase {
    func testNoiseFreePlantedFactorsAreRecoveredExactly() throws {
        let planted = try plantedMatrix(noise: 0)
        var data = planted.data.elements
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(
            rank: 4, maxIterations: 3000, tolerance: 0))
        XCTAssertLessThanOrEqual(fit.relativeError, 1e-6)
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.W, planted.W, columnsAreComponents: true), 0.999)
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.H, planted.H, columnsAreComponents: false), 0.999)
    }

    func testNoisyPlantedFactorsAreRecovered() throws {
        let planted = try plantedMatrix(units: 100, time: 400, noise: 0.1)
        var data = planted.data.elements
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 100, columns: 400, options: NMFOptions(rank: 4))
        XCTAssertTrue(fit.converged)
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.W, planted.W, columnsAreComponents: true), 0.98)
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.H, planted.H, columnsAreComponents: false), 0.98)
    }

    func testObjectiveNeverIncreasesForHALSAndMultiplicativeUpdates() throws {
        let planted = try plantedMatrix(noise: 0.2, seed: 3)
        for solver in NMFSolver.allCases {
            for initialization in [NMFInitialization.random, .nndsvda] {
                var data = planted.data.elements
                let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(
                    rank: 5, solver: solver, initialization: initialization,
                    penalties: NMFPenalties(l1W: 0.01, l2H: 0.01), maxIterations: 150, tolerance: 0))
                XCTAssertEqual(fit.objective.count, 150)
                for (before, after) in zip(fit.objective, fit.objective.dropFirst()) {
                    XCTAssertLessThanOrEqual(after, before * (1 + 1e-12), "\(solver) \(initialization.name)")
                }
            }
        }
    }

    func testReportedErrorEqualsTheExplicitResidual() throws {
        let planted = try plantedMatrix(noise: 0.3, seed: 4)
        var data = planted.data.elements
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(rank: 3))
        let model = try multiply(fit.W, fit.H)
        XCTAssertEqual(fit.relativeError, relativeDifference(model.elements, planted.data.elements), accuracy: 1e-10)
    }

    func testComponentsHaveUnitNormLoadingsAndAreSortedByContribution() throws {
        var data = try plantedMatrix(noise: 0.1).data.elements
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(rank: 4))
        var previous = Double.infinity
        for component in 0..<4 {
            let wNorm = fit.W.column(component).reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(wNorm, 1, accuracy: 1e-12)
            let contribution = fit.H.row(component).reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertLessThanOrEqual(contribution, previous)
            previous = contribution
        }
    }

    func testMaskedFitWithTwentyPercentMissingRecoversPlantedFactors() throws {
        let planted = try plantedMatrix(units: 100, time: 400, noise: 0.05, seed: 5)
        var data = planted.data.elements
        var generator = SeededGenerator(seed: 9)
        for index in data.indices where generator.uniform(in: 0..<1) < 0.2 { data[index] = .nan }
        let before = data
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 100, columns: 400, options: NMFOptions(rank: 4))
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.W, planted.W, columnsAreComponents: true), 0.97)
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.H, planted.H, columnsAreComponents: false), 0.97)
        // The caller's array reads as before: missing entries are NaN again, the others untouched.
        XCTAssertTrue(zip(before, data).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 })
    }

    func testHeldOutValuesDoNotInfluenceTheFit() throws {
        let planted = try plantedMatrix(noise: 0.1, seed: 6)
        // The entries replicate 0 of a sweep with seed 11 holds out, found the way the sweep finds them.
        var probe = planted.data.elements
        var stream = SeededGenerator(seed: 11).split(stream: 0)
        let heldOut = RankSelection.holdOut(&probe, fraction: 0.1, using: &stream).map(\.index)
        XCTAssertGreaterThan(heldOut.count, 900)
        var original = planted.data.elements
        var altered = planted.data.elements
        for index in heldOut { altered[index] = 1e6 }
        let options = RankSweepOptions(ranks: [3], replicates: 1, holdoutFraction: 0.1, seed: 11)
        let method = FactorizationMethod.nmf(NMFOptions(rank: 3))
        let first = try RankSelection.sweep(&original, rows: 60, columns: 200, method: method, options: options)
        let second = try RankSelection.sweep(&altered, rows: 60, columns: 200, method: method, options: options)
        XCTAssertEqual(first.fits[0].W, second.fits[0].W)
        XCTAssertEqual(first.fits[0].H, second.fits[0].H)
        XCTAssertEqual(first.fits[0].trainError, second.fits[0].trainError)
        XCTAssertNotEqual(first.fits[0].testError, second.fits[0].testError)
        XCTAssertEqual(original, planted.data.elements, "the sweep restores the held-out values")
    }

    func testFullyObservedDataTakesTheUnmaskedPathExactly() throws {
        // With nothing missing the EM correction is skipped: the objective equals ½‖X − WH‖² from the result.
        let planted = try plantedMatrix(noise: 0.1, seed: 7)
        var data = planted.data.elements
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(rank: 4))
        XCTAssertEqual(data, planted.data.elements)
        let model = try multiply(fit.W, fit.H)
        let residual = zip(model.elements, planted.data.elements).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        XCTAssertEqual(fit.objective.last!, 0.5 * residual, accuracy: 1e-9 * residual)
    }

    func testSameSeedGivesIdenticalFitsAndAnotherSeedDiffers() throws {
        let planted = try plantedMatrix(noise: 0.1)
        let run = { (seed: UInt64) -> FactorizationResult in
            var data = planted.data.elements
            return try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(
                rank: 4, initialization: .random, maxIterations: 20, tolerance: 0, seed: seed))
        }
        XCTAssertEqual(try run(3).W, try run(3).W)
        XCTAssertNotEqual(try run(3).W, try run(4).W)
    }

    func testResultDoesNotDependOnTheThreadCount() throws {
        let planted = try plantedMatrix(units: 300, time: 700, noise: 0.1)
        var generator = SeededGenerator(seed: 1)
        var masked = planted.data.elements
        for index in masked.indices where generator.uniform(in: 0..<1) < 0.1 { masked[index] = .nan }
        let run = { (threads: Int) -> FactorizationResult in
            var data = masked
            return try NonnegativeMatrixFactorization.fit(&data, rows: 300, columns: 700, options: NMFOptions(
                rank: 4, maxIterations: 30, tolerance: 0, threads: threads))
        }
        let one = try run(1), three = try run(3)
        XCTAssertEqual(one.W, three.W)
        XCTAssertEqual(one.H, three.H)
        XCTAssertEqual(one.objective, three.objective)
    }

    func testL1PenaltyOnHMakesActivitySparser() throws {
        let planted = try plantedMatrix(noise: 0.2)
        // L1 on H alone would be undone by W growing (the scale moves between the factors); L2 on W pins it.
        let zeros = { (l1: Double) -> Int in
            var data = planted.data.elements
            let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(
                rank: 4, penalties: NMFPenalties(l2W: 1, l1H: l1)))
            return fit.H.elements.filter { $0 == 0 }.count
        }
        let (plain, sparse) = (try zeros(0), try zeros(1))
        XCTAssertGreaterThan(sparse, 2 * plain + 40, "\(plain) → \(sparse) zeros of 800")
    }

    func testSinglePrecisionMatchesDoublePrecision() throws {
        let planted = try plantedMatrix(noise: 0.1)
        var double = planted.data.elements
        var single = planted.data.elements.map { Float($0) }
        let options = NMFOptions(rank: 4, maxIterations: 100, tolerance: 0)
        let fitDouble = try NonnegativeMatrixFactorization.fit(&double, rows: 60, columns: 200, options: options)
        let fitSingle = try NonnegativeMatrixFactorization.fit(&single, rows: 60, columns: 200, options: options)
        XCTAssertEqual(fitSingle.relativeError, fitDouble.relativeError, accuracy: 1e-4)
        XCTAssertGreaterThanOrEqual(matchedCosine(fitSingle.W, fitDouble.W, columnsAreComponents: true), 0.999)
    }

    func testNegativeEntriesAreCountedAndRefused() throws {
        var data: [Double] = [1, -2, 3, -0.5, 4, 5]
        XCTAssertThrowsError(try NonnegativeMatrixFactorization.fit(&data, rows: 2, columns: 3, options: NMFOptions(rank: 1))) {
            XCTAssertEqual($0 as? FactorizationError, .negativeEntries(count: 2, minimum: -2))
        }
    }

    func testRankOutsideTheDataAndBadInitialFactorsAreRefused() throws {
        var data = [Double](repeating: 1, count: 6)
        XCTAssertThrowsError(try NonnegativeMatrixFactorization.fit(&data, rows: 2, columns: 3, options: NMFOptions(rank: 3)))
        XCTAssertThrowsError(try NonnegativeMatrixFactorization.fit(&data, rows: 2, columns: 3, options: NMFOptions(rank: 0)))
        let W = Matrix(rows: 3, columns: 1, repeating: 1), H = Matrix(rows: 1, columns: 3, repeating: 1)
        XCTAssertThrowsError(try NonnegativeMatrixFactorization.fit(&data, rows: 2, columns: 3, options: NMFOptions(
            rank: 1, initialization: .given(W: W, H: H)))) {
            guard case .invalidInitialFactors = $0 as? FactorizationError else { return XCTFail("\($0)") }
        }
    }

    func testAComponentStartedAtZeroIsRevived() throws {
        // HALS cannot move an exactly zero component (its Gram diagonal is 0); the floor lets it come back.
        let planted = try plantedMatrix(noise: 0.05, seed: 2)
        var W = planted.W, H = planted.H
        for i in 0..<W.rows { W[i, 2] = 0 }
        for index in W.elements.indices { W.elements[index] += 0.01 }
        for t in 0..<H.columns { H[2, t] = 0 }
        for i in 0..<W.rows { W[i, 2] = 0 }
        var data = planted.data.elements
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(
            rank: 4, initialization: .given(W: W, H: H)))
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.W, planted.W, columnsAreComponents: true), 0.98)
        XCTAssertGreaterThanOrEqual(matchedCosine(fit.H, planted.H, columnsAreComponents: false), 0.98)
    }

    func testGivenInitialFactorsAreUsed() throws {
        let planted = try plantedMatrix(noise: 0)
        var data = planted.data.elements
        // Starting at the truth, HALS stays there: zero error from the first iteration.
        let fit = try NonnegativeMatrixFactorization.fit(&data, rows: 60, columns: 200, options: NMFOptions(
            rank: 4, initialization: .given(W: planted.W, H: planted.H), maxIterations: 1, tolerance: 0))
        XCTAssertLessThan(fit.relativeError, 1e-10)
    }
}
