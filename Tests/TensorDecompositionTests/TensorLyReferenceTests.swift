import Foundation
import LinearAlgebra
import XCTest
@testable import TensorDecomposition

/// `cp` against TensorLy's `parafac` from the same start (Fixtures/tensorly_parafac.json, written by
/// Scripts/fixtures/make_tensorly_reference.py): the same ALS, so the same factors up to rounding.
final class TensorLyReferenceTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            let shape: [Int]
            let rank: Int
            let iterations: Int
            let data: [Double]
            let start: [[Double]]
            let factors: [[Double]]
            let weights: [Double]
        }
        let tensorly: String
        let cases: [Case]
    }

    func testCPMatchesTensorLyParafacFromTheSameStart() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "tensorly_parafac", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        XCTAssertEqual(reference.cases.count, 2)
        for item in reference.cases {
            let R = item.rank
            let start = zip(item.start, item.shape).map { Matrix(rows: $1, columns: R, elements: $0) }
            var data = item.data
            var options = CPOptions(rank: R, method: .cp, initialization: .given(start), maxIterations: item.iterations,
                                    tolerance: 0)
            options.accelerate = false  // TensorLy's parafac does not extrapolate
            let fit = try CPDecomposition.fit(&data, shape: item.shape, options: options)
            XCTAssertEqual(fit.iterations, item.iterations)
            // TensorLy's factors carry the scale; normalise them the way nfx writes its own.
            var theirs = zip(item.factors, item.shape).map { Matrix(rows: $1, columns: R, elements: $0) }
            for r in 0..<R { for i in 0..<item.shape[0] { theirs[0][i, r] *= item.weights[r] } }
            let (factors, weights) = CPNormalization.normalizedAndSorted(theirs.map(\.elements), dims: item.shape,
                                                                         rank: R, signFix: true)
            for r in 0..<R { XCTAssertEqual(fit.weights[r], weights[r], accuracy: 1e-8 * weights[0], "\(item.shape)") }
            for mode in 0..<3 {
                for (ours, expected) in zip(fit.factors[mode].elements, factors[mode].elements) {
                    XCTAssertEqual(ours, expected, accuracy: 1e-8, "\(item.shape) mode \(mode)")
                }
            }
        }
    }
}
