import LinearAlgebra
import NFXCore
import XCTest
@testable import Factorization

final class RankSelectionTests: XCTestCase {
    func testCrossValidationPicksThePlantedNMFRank() throws {
        let planted = try plantedMatrix(units: 80, time: 300, rank: 4, noise: 0.2, seed: 12)
        var data = planted.data.elements
        let result = try RankSelection.sweep(&data, rows: 80, columns: 300, method: .nmf(NMFOptions(rank: 1)),
                                             options: RankSweepOptions(ranks: Array(1...7), replicates: 3, seed: 1))
        XCTAssertEqual(result.fits.count, 21)
        XCTAssertEqual(result.selectedRank, 4, "\(result.summary)")
        let summary = result.summary
        // Training error keeps falling past the planted rank; that is why the test error is needed.
        XCTAssertLessThan(summary[6].trainError, summary[3].trainError)
        // At the planted rank the replicates agree.
        XCTAssertGreaterThan(summary[3].similarity, 0.95)
    }

    func testCrossValidationPicksThePlantedPCARank() throws {
        var generator = SeededGenerator(seed: 4)
        let (rows, columns, rank) = (60, 200, 3)
        let W = Matrix(rows: rows, columns: rank, elements: (0..<(rows * rank)).map { _ in generator.normal() })
        let H = Matrix(rows: rank, columns: columns, elements: (0..<(rank * columns)).map { _ in generator.normal() })
        var data = try multiply(W, H).elements.map { $0 + 0.3 * generator.normal() }
        let result = try RankSelection.sweep(&data, rows: rows, columns: columns, method: .pca(PCAOptions(rank: 1)),
                                             options: RankSweepOptions(ranks: Array(1...6), replicates: 2, seed: 2))
        XCTAssertEqual(result.selectedRank, 3, "\(result.summary)")
    }

    func testSelectionTakesTheSmallestRankWithinOneStandardErrorOfTheBest() {
        let empty = Matrix(rows: 0, columns: 0)
        let sweep = { (errors: [Int: [Double]]) in
            RankSweepResult(fits: errors.flatMap { rank, values in
                values.enumerated().map { RankSweepFit(rank: rank, replicate: $0.offset, W: empty, H: empty,
                                                       trainError: 0, testError: $0.element, similarity: 1) }
            })
        }
        // Flat past rank 3 to within the replicates' spread: the smallest of the tied ranks.
        let flat = sweep([2: [0.30, 0.31], 3: [0.0999, 0.1000, 0.1000], 4: [0.0999, 0.0999, 0.1000],
                          5: [0.0998, 0.0999, 0.1000]])
        XCTAssertEqual(flat.rankWithLowestTestError, 5)
        XCTAssertEqual(flat.selectedRank, 3)
        // A real improvement is taken.
        let better = sweep([3: [0.1002, 0.0998], 4: [0.0901, 0.0899], 5: [0.0905, 0.0903]])
        XCTAssertEqual(better.selectedRank, 4)
    }

    func testNoHoldOutMeansNoTestErrorAndNoSelection() throws {
        var data = try plantedMatrix(noise: 0.1).data.elements
        let result = try RankSelection.sweep(&data, rows: 60, columns: 200, method: .nmf(NMFOptions(rank: 1)),
                                             options: RankSweepOptions(ranks: [2, 3], replicates: 2, holdoutFraction: 0))
        XCTAssertTrue(result.fits.allSatisfy { $0.testError.isNaN && $0.trainError.isFinite })
        XCTAssertNil(result.selectedRank)
    }

    func testBadSweepOptionsAreRefused() throws {
        var data = try plantedMatrix(noise: 0.1).data.elements
        let method = FactorizationMethod.nmf(NMFOptions(rank: 1))
        XCTAssertThrowsError(try RankSelection.sweep(&data, rows: 60, columns: 200, method: method,
                                                     options: RankSweepOptions(ranks: [0, 2])))
        XCTAssertThrowsError(try RankSelection.sweep(&data, rows: 60, columns: 200, method: method,
                                                     options: RankSweepOptions(ranks: [2], replicates: 0)))
        XCTAssertThrowsError(try RankSelection.sweep(&data, rows: 60, columns: 200, method: method,
                                                     options: RankSweepOptions(ranks: [2], holdoutFraction: 1)))
    }
}

final class ComponentSimilarityTests: XCTestCase {
    func testAFitIsFullySimilarToItsPermutedSignFlippedAndRescaledCopies() throws {
        var generator = SeededGenerator(seed: 1)
        let W = Matrix(rows: 20, columns: 3, elements: (0..<60).map { _ in generator.normal() })
        let H = Matrix(rows: 3, columns: 30, elements: (0..<90).map { _ in generator.normal() })
        XCTAssertEqual(ComponentSimilarity.score(W: W, H: H, W: W, H: H), 1, accuracy: 1e-12)
        var W2 = Matrix(rows: 20, columns: 3), H2 = Matrix(rows: 3, columns: 30)
        let order = [2, 0, 1], scale = [-2.0, 0.5, 3.0]
        for (position, component) in order.enumerated() {
            for i in 0..<20 { W2[i, position] = scale[position] * W[i, component] }
            for t in 0..<30 { H2[position, t] = H[component, t] / scale[position] }
        }
        XCTAssertEqual(ComponentSimilarity.score(W: W, H: H, W: W2, H: H2), 1, accuracy: 1e-12)
    }

    func testUnequalRanksAndZeroComponentsCountAsMismatches() throws {
        var generator = SeededGenerator(seed: 2)
        let W = Matrix(rows: 10, columns: 2, elements: (0..<20).map { _ in abs(generator.normal()) })
        let H = Matrix(rows: 2, columns: 15, elements: (0..<30).map { _ in abs(generator.normal()) })
        let one = Matrix(rows: 10, columns: 1, elements: W.column(0))
        let oneH = Matrix(rows: 1, columns: 15, elements: Array(H.row(0)))
        XCTAssertEqual(ComponentSimilarity.score(W: W, H: H, W: one, H: oneH), 0.5, accuracy: 1e-12)
        let zero = Matrix(rows: 10, columns: 2), zeroH = Matrix(rows: 2, columns: 15)
        XCTAssertEqual(ComponentSimilarity.score(W: W, H: H, W: zero, H: zeroH), 0)
        XCTAssertEqual(ComponentSimilarity.score(W: W, H: H, W: Matrix(rows: 10, columns: 0), H: Matrix(rows: 0, columns: 15)), 0)
    }
}
