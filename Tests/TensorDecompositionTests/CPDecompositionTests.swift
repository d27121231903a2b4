import Factorization
import LinearAlgebra
import NFXCore
import Simulation
import XCTest
@testable import TensorDecomposition

/// Planted data from `nfx simulate tensor`'s generator, and its truth as a CP model with unit weights.
func plantedTensor(units: Int = 30, time: Int = 40, trials: Int = 20, rank: Int = 3, noise: Double = 0,
                   seed: UInt64 = 1) throws -> (data: [Double], shape: [Int], truth: CPResult) {
    let simulated = try TensorSimulation(units: units, time: time, trials: trials, rank: rank, noise: noise,
                                         seed: seed).generate()
    let truth = CPResult(factors: simulated.factors, weights: [Double](repeating: 1, count: rank), objective: [],
                         relativeErrors: [], iterations: 0, converged: true)
    let (factors, weights) = CPNormalization.normalizedAndSorted(simulated.factors.map(\.elements),
                                                                 dims: [units, time, trials], rank: rank, signFix: false)
    return (simulated.data.elements, [units, time, trials],
            CPResult(factors: factors, weights: weights, objective: [], relativeErrors: [], iterations: 0,
                     converged: true))
}

/// ‖X − model‖ / ‖X‖ with the model tensor built explicitly (the brute-force check of the Gram-based error).
func explicitRelativeError(_ data: [Double], shape: [Int], _ fit: CPResult) -> Double {
    let (I, J, K) = (shape[0], shape[1], shape[2])
    var residual = 0.0, norm = 0.0
    for i in 0..<I {
        for j in 0..<J {
            for k in 0..<K {
                var model = 0.0
                for r in 0..<fit.rank {
                    model += fit.weights[r] * fit.factors[0][i, r] * fit.factors[1][j, r] * fit.factors[2][k, r]
                }
                let x = data[(i * J + j) * K + k]
                residual += (x - model) * (x - model)
                norm += x * x
            }
        }
    }
    return (residual / norm).squareRoot()
}

func maxAbsoluteDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

final class CPDecompositionTests: XCTestCase {
    func testNoiseFreePlantedFactorsAreRecovered() throws {
        for method in CPMethod.allCases {
            let planted = try plantedTensor(rank: 4, noise: 0)
            var data = planted.data
            let fit = try CPDecomposition.fit(&data, shape: planted.shape, options: CPOptions(
                rank: 4, method: method, initialization: .svd, maxIterations: 2000, tolerance: 1e-12))
            XCTAssertGreaterThanOrEqual(KruskalSimilarity.score(fit, planted.truth), 0.99, "\(method)")
            XCTAssertLessThan(fit.relativeError, 1e-4, "\(method)")
        }
    }

    func testNoisyPlantedFactorsAreRecovered() throws {
        for rank in [3, 5] {
            let planted = try plantedTensor(units: 40, time: 50, trials: 30, rank: rank, noise: 0.1, seed: UInt64(rank))
            var data = planted.data
            let fit = try CPDecomposition.fit(&data, shape: planted.shape, options: CPOptions(rank: rank, initialization: .svd))
            XCTAssertGreaterThanOrEqual(KruskalSimilarity.score(fit, planted.truth), 0.95, "rank \(rank)")
        }
    }

    func testObjectiveNeverIncreasesForHALSAndALS() throws {
        let planted = try plantedTensor(noise: 0.2, seed: 3)
        for method in CPMethod.allCases {
            var data = planted.data
            var options = CPOptions(rank: 5, method: method, maxIterations: 100, tolerance: 0, seed: 2)
            options.accelerate = false
            let fit = try CPDecomposition.fit(&data, shape: planted.shape, options: options)
            XCTAssertEqual(fit.iterations, 100)
            for (before, after) in zip(fit.objective, fit.objective.dropFirst()) {
                XCTAssertLessThanOrEqual(after, before * (1 + 1e-10), "\(method)")
            }
        }
    }

    func testExtrapolationReachesPlainHALSErrorsAndRestartsWhenTheErrorRises() throws {
        let planted = try plantedTensor(units: 40, time: 50, trials: 30, rank: 4, noise: 0.1, seed: 8)
        var plainOptions = CPOptions(rank: 4, maxIterations: 300, tolerance: 0, seed: 4)
        plainOptions.accelerate = false
        var acceleratedOptions = plainOptions
        acceleratedOptions.accelerate = true
        var data = planted.data
        let plain = try CPDecomposition.fit(&data, shape: planted.shape, options: plainOptions)
        let accelerated = try CPDecomposition.fit(&data, shape: planted.shape, options: acceleratedOptions)
        XCTAssertNotEqual(plain.objective, accelerated.objective, "the extrapolation changes the path")
        XCTAssertLessThanOrEqual(accelerated.relativeError, plain.relativeError * (1 + 1e-6))
        XCTAssertGreaterThanOrEqual(KruskalSimilarity.score(accelerated, planted.truth), 0.99)
        // A rise is followed by a restart from the plain updates, which cannot rise again at once.
        let objective = accelerated.objective
        for index in 2..<objective.count where objective[index - 1] > objective[index - 2] {
            XCTAssertLessThanOrEqual(objective[index], objective[index - 1] * (1 + 1e-10), "at \(index)")
        }
        // Unconstrained CP ignores the flag.
        var cpPlain = plainOptions, cpAccelerated = acceleratedOptions
        cpPlain.method = .cp
        cpAccelerated.method = .cp
        XCTAssertEqual(try CPDecomposition.fit(&data, shape: planted.shape, options: cpPlain).objective,
                       try CPDecomposition.fit(&data, shape: planted.shape, options: cpAccelerated).objective)
    }

    func testGramBasedErrorEqualsTheExplicitError() throws {
        let planted = try plantedTensor(noise: 0.3, seed: 4)
        for method in CPMethod.allCases {
            var data = planted.data
            let fit = try CPDecomposition.fit(&data, shape: planted.shape, options: CPOptions(rank: 3, method: method))
            XCTAssertEqual(fit.relativeError, explicitRelativeError(planted.data, shape: planted.shape, fit),
                           accuracy: 1e-10)
        }
    }

    func testFactorsHaveUnitNormColumnsAndComponentsAreSortedByWeight() throws {
        let planted = try plantedTensor(noise: 0.1)
        var data = planted.data
        let fit = try CPDecomposition.fit(&data, shape: planted.shape, options: CPOptions(rank: 3))
        for factor in fit.factors {
            for r in 0..<3 {
                XCTAssertEqual(factor.column(r).reduce(0) { $0 + $1 * $1 }.squareRoot(), 1, accuracy: 1e-12)
            }
        }
        XCTAssertEqual(fit.weights, fit.weights.sorted(by: >))
    }

    func testSameSeedGivesIdenticalResultsAndThreadsDoNotMatter() throws {
        let planted = try plantedTensor(noise: 0.1)
        let run = { (seed: UInt64, threads: Int) -> CPResult in
            var data = planted.data
            return try CPDecomposition.fit(&data, shape: planted.shape, options: CPOptions(
                rank: 3, maxIterations: 30, tolerance: 0, seed: seed, threads: threads))
        }
        let first = try run(7, 1), again = try run(7, 3), other = try run(8, 1)
        XCTAssertEqual(first.factors, again.factors)
        XCTAssertEqual(first.objective, again.objective)
        XCTAssertNotEqual(first.factors, other.factors)
    }

    func testMaskedFitWithTwentyPercentMissingRecoversPlantedFactors() throws {
        let planted = try plantedTensor(units: 40, time: 50, trials: 30, rank: 3, noise: 0.05, seed: 5)
        var data = planted.data
        var generator = SeededGenerator(seed: 3)
        for index in data.indices where generator.uniform(in: 0..<1) < 0.2 { data[index] = .nan }
        let before = data
        let fit = try CPDecomposition.fit(&data, shape: planted.shape, options: CPOptions(rank: 3, initialization: .svd))
        XCTAssertGreaterThanOrEqual(KruskalSimilarity.score(fit, planted.truth), 0.95)
        XCTAssertTrue(zip(before, data).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 })
        // Without extrapolation the masked (EM) objective never rises.
        var plainOptions = CPOptions(rank: 3, initialization: .svd)
        plainOptions.accelerate = false
        let plain = try CPDecomposition.fit(&data, shape: planted.shape, options: plainOptions)
        XCTAssertGreaterThanOrEqual(KruskalSimilarity.score(plain, planted.truth), 0.95)
        for (previous, next) in zip(plain.objective, plain.objective.dropFirst()) {
            XCTAssertLessThanOrEqual(next, previous * (1 + 1e-10))
        }
    }

    func testMissingValuesDoNotInfluenceTheFitAndNoMissingMeansTheUnmaskedPath() throws {
        let planted = try plantedTensor(noise: 0.1, seed: 6)
        var first = planted.data, second = planted.data
        for index in stride(from: 0, to: first.count, by: 9) {
            first[index] = .nan
            second[index] = .nan
        }
        var complete = planted.data
        let options = CPOptions(rank: 3, maxIterations: 40, tolerance: 0)
        let a = try CPDecomposition.fit(&first, shape: planted.shape, options: options)
        let b = try CPDecomposition.fit(&second, shape: planted.shape, options: options)
        XCTAssertEqual(a.factors, b.factors)
        let unmasked = try CPDecomposition.fit(&complete, shape: planted.shape, options: options)
        XCTAssertEqual(complete, planted.data, "complete data is never written")
        XCTAssertNotEqual(unmasked.factors, a.factors)
    }

    func testNegativeDataIsRefusedForNCPButNotForCP() throws {
        var data = [Double](repeating: 1, count: 24)
        data[5] = -3
        XCTAssertThrowsError(try CPDecomposition.fit(&data, shape: [2, 3, 4], options: CPOptions(rank: 1))) {
            XCTAssertEqual($0 as? TensorDecompositionError, .negativeEntries(count: 1, minimum: -3))
        }
        XCTAssertNoThrow(try CPDecomposition.fit(&data, shape: [2, 3, 4], options: CPOptions(rank: 1, method: .cp)))
        XCTAssertThrowsError(try CPDecomposition.fit(&data, shape: [2, 3, 4], options: CPOptions(rank: 0, method: .cp)))
        XCTAssertThrowsError(try CPDecomposition.fit(&data, shape: [6, 4], options: CPOptions(rank: 1, method: .cp)))
    }

    func testSinglePrecisionAgreesWithDouble() throws {
        let planted = try plantedTensor(noise: 0.1)
        var double = planted.data
        var single = planted.data.map { Float($0) }
        let options = CPOptions(rank: 3, maxIterations: 50, tolerance: 0)
        let a = try CPDecomposition.fit(&double, shape: planted.shape, options: options)
        let b = try CPDecomposition.fit(&single, shape: planted.shape, options: options)
        XCTAssertEqual(a.relativeError, b.relativeError, accuracy: 1e-4)
        XCTAssertGreaterThan(KruskalSimilarity.score(a, b), 0.999)
    }
}

final class KruskalSimilarityTests: XCTestCase {
    func testAModelIsFullySimilarToItsPermutedSignFlippedAndRescaledCopies() throws {
        let planted = try plantedTensor(rank: 3)
        XCTAssertEqual(KruskalSimilarity.score(planted.truth, planted.truth), 1, accuracy: 1e-12)
        var copy = planted.truth
        let order = [2, 0, 1]
        copy.factors = copy.factors.enumerated().map { mode, factor in
            var result = factor
            for (position, r) in order.enumerated() {
                // Flip the sign in modes 0 and 1 (the model is unchanged) and rescale mode 2 (renormalised below).
                let sign: Double = mode < 2 ? -1 : 1
                for i in 0..<factor.rows { result[i, position] = sign * factor[i, r] * (mode == 2 ? 3 : 1) }
            }
            return result
        }
        copy.weights = order.map { planted.truth.weights[$0] }
        XCTAssertEqual(KruskalSimilarity.score(planted.truth, copy), 1, accuracy: 1e-12)
    }

    func testZeroComponentsUnequalRanksAndWeightMismatchLowerTheScore() throws {
        let planted = try plantedTensor(rank: 3)
        var fewer = planted.truth
        fewer.factors = fewer.factors.map { factor in
            Matrix(rows: factor.rows, columns: 2, elements: (0..<factor.rows).flatMap { i in [factor[i, 0], factor[i, 1]] })
        }
        fewer.weights = Array(fewer.weights.prefix(2))
        XCTAssertEqual(KruskalSimilarity.score(planted.truth, fewer), 2.0 / 3, accuracy: 1e-12)
        var halved = planted.truth
        halved.weights = halved.weights.map { $0 / 2 }
        XCTAssertEqual(KruskalSimilarity.score(planted.truth, halved), 0.5, accuracy: 1e-12)
        var zero = planted.truth
        zero.factors = zero.factors.map { Matrix(rows: $0.rows, columns: 3) }
        zero.weights = [0, 0, 0]
        XCTAssertEqual(KruskalSimilarity.score(planted.truth, zero), 0)
        let empty = CPResult(factors: planted.truth.factors.map { Matrix(rows: $0.rows, columns: 0) }, weights: [],
                             objective: [], relativeErrors: [], iterations: 0, converged: true)
        XCTAssertEqual(KruskalSimilarity.score(planted.truth, empty), 0)
    }
}

final class CPEnsembleTests: XCTestCase {
    func testEnsembleFitsEveryRankAndReplicateAndFindsTheStableRank() throws {
        let planted = try plantedTensor(units: 30, time: 40, trials: 20, rank: 3, noise: 0.05, seed: 2)
        var data = planted.data
        let ensemble = try CPEnsembleFitting.fit(&data, shape: planted.shape, method: CPOptions(rank: 1),
                                                 options: CPEnsembleOptions(ranks: [1, 2, 3, 4, 5], replicates: 4))
        XCTAssertEqual(ensemble.fits.count, 20)
        let summary = ensemble.summary
        XCTAssertEqual(summary.map(\.rank), [1, 2, 3, 4, 5])
        XCTAssertGreaterThan(summary[2].meanSimilarity, 0.99, "\(summary)")
        XCTAssertEqual(ensemble.selectedRank(), 3, "\(summary)")
        XCTAssertLessThan(summary[2].bestError, summary[1].bestError)
        // One thread and other batches give the same fits, up to the rounding of differently shaped GEMMs.
        var again = planted.data
        let sequential = try CPEnsembleFitting.fit(&again, shape: planted.shape, method: CPOptions(rank: 1),
                                                   options: CPEnsembleOptions(ranks: [3], replicates: 2, threads: 1))
        let same = ensemble.fits.first { $0.rank == 3 && $0.replicate == 0 }!.result
        XCTAssertEqual(sequential.fits[0].result.iterations, same.iterations)
        for (mine, theirs) in zip(sequential.fits[0].result.factors, same.factors) {
            XCTAssertLessThan(maxAbsoluteDifference(mine.elements, theirs.elements), 1e-9)
        }
    }

    func testFitsTogetherEqualSeparateFitsAndStopOnTheirOwn() throws {
        let planted = try plantedTensor(units: 25, time: 30, trials: 12, rank: 3, noise: 0.05, seed: 4)
        for method in CPMethod.allCases {
            let shared = CPOptions(rank: 1, method: method, maxIterations: 60, tolerance: 1e-7)
            let members = [(2, 11), (3, 12), (3, 13), (5, 14)].map { rank, seed -> CPOptions in
                var member = shared
                member.rank = rank
                member.seed = UInt64(seed)
                return member
            }
            let together = try planted.data.withUnsafeBufferPointer { X in
                try CPDecomposition.fitTogether(X, shape: planted.shape, options: shared, members: members)
            }
            XCTAssertGreaterThan(Set(together.map(\.iterations)).count, 1, "members stop at different iterations")
            for (member, fit) in zip(members, together) {
                var data = planted.data
                let alone = try CPDecomposition.fit(&data, shape: planted.shape, options: member)
                XCTAssertEqual(fit.iterations, alone.iterations, "\(method) rank \(member.rank)")
                XCTAssertEqual(fit.relativeError, alone.relativeError, accuracy: 1e-10)
                for (mine, theirs) in zip(fit.factors, alone.factors) {
                    XCTAssertLessThan(maxAbsoluteDifference(mine.elements, theirs.elements), 1e-8,
                                      "\(method) rank \(member.rank)")
                }
            }
        }
    }

    func testBatchesKeepTheStackedComponentsWithinTheBudget() {
        XCTAssertEqual(batches(ranks: [1, 1, 2, 2, 3, 3], columnBudget: 4), [[0, 1, 2], [3], [4], [5]])
        XCTAssertEqual(batches(ranks: [5, 5], columnBudget: 3), [[0], [1]], "a job larger than the budget runs alone")
        XCTAssertEqual(batches(ranks: [], columnBudget: 3), [])
    }

    func testEnsemblesFromSeparateRunsAlignWhenCombined() throws {
        let planted = try plantedTensor(noise: 0.05)
        var data = planted.data
        let first = try CPEnsembleFitting.fit(&data, shape: planted.shape, method: CPOptions(rank: 1),
                                              options: CPEnsembleOptions(ranks: [2], replicates: 2))
        let second = try CPEnsembleFitting.fit(&data, shape: planted.shape, method: CPOptions(rank: 1),
                                               options: CPEnsembleOptions(ranks: [3], replicates: 2))
        let combined = CPEnsemble(fits: first.fits + second.fits + second.fits)
        XCTAssertEqual(combined.fits.count, 4, "duplicates are dropped")
        XCTAssertEqual(combined.summary.map(\.rank), [2, 3])
    }
}
