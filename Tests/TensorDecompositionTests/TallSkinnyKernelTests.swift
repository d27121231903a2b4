import CKernels
import NFXCore
import TensorDecomposition
import XCTest

/// CKernels' tall-and-skinny products, the two passes of every CP iteration, against their definitions summed
/// in Double. The shapes cover every edge of the kernels' blocking: rows that do not fill a block of three, ranks
/// that do not fill a vector, one panel or several, and a row range that starts inside the unfolding. Each test
/// runs the vector path (where the CPU has AVX2/FMA) and the portable loops.
final class TallSkinnyKernelTests: XCTestCase {
    override func tearDown() {
        nfx_use_portable_kernels(0)
        super.tearDown()
    }

    private let shapes: [(rows: Int, columns: Int, rank: Int)] = [
        (1, 1, 1), (2, 5, 3), (3, 7, 4), (4, 1, 5), (7, 13, 10), (50, 9, 12), (31, 100, 13), (64, 20, 25),
        (17, 3, 40), (100, 33, 1),
    ]

    func testTimesSmallMatchesTheMatrixProductInBothPrecisions() {
        var generator = SeededGenerator(seed: 5)
        for (portable, shape) in [0, 1].flatMap({ portable in shapes.map { (portable, $0) } }) {
            nfx_use_portable_kernels(Int32(portable))
            let X = (0..<(shape.rows * shape.columns)).map { _ in Double.random(in: -1...1, using: &generator) }
            let W = (0..<(shape.columns * shape.rank)).map { _ in Double.random(in: -1...1, using: &generator) }
            var expected = [Double](repeating: 0, count: shape.rows * shape.rank)
            for row in 0..<shape.rows {
                for r in 0..<shape.rank {
                    for k in 0..<shape.columns { expected[row * shape.rank + r] += X[row * shape.columns + k] * W[k * shape.rank + r] }
                }
            }
            let double = timesSmall(X, W, shape)
            let single = timesSmall(X.map(Float.init), W.map(Float.init), shape).map(Double.init)
            for index in expected.indices {
                XCTAssertEqual(double[index], expected[index], accuracy: 1e-12, "double, portable \(portable), shape \(shape), entry \(index)")
                XCTAssertEqual(single[index], expected[index], accuracy: 1e-4, "single, portable \(portable), shape \(shape), entry \(index)")
            }
        }
    }

    func testKhatriRaoProductMatchesItsDefinitionFromAnyFirstRow() {
        var generator = SeededGenerator(seed: 6)
        for (portable, shape) in [0, 1].flatMap({ portable in shapes.map { (portable, $0) } }) {
            nfx_use_portable_kernels(Int32(portable))
            let J = 4, I = (shape.rows + 10) / J + 1, first = 3
            let X = (0..<(shape.rows * shape.columns)).map { _ in Double.random(in: -1...1, using: &generator) }
            let A = (0..<(I * shape.rank)).map { _ in Double.random(in: -1...1, using: &generator) }
            let B = (0..<(J * shape.rank)).map { _ in Double.random(in: -1...1, using: &generator) }
            let start = (0..<(shape.columns * shape.rank)).map { _ in Double.random(in: -1...1, using: &generator) }
            var expected = start
            for local in 0..<shape.rows {
                let (i, j) = ((first + local) / J, (first + local) % J)
                for k in 0..<shape.columns {
                    for r in 0..<shape.rank {
                        expected[k * shape.rank + r] += X[local * shape.columns + k] * A[i * shape.rank + r]
                            * B[j * shape.rank + r]
                    }
                }
            }
            let double = khatriRao(X, A, B, start: start, first: first, J: J, shape)
            let single = khatriRao(X.map(Float.init), A.map(Float.init), B.map(Float.init), start: start.map(Float.init),
                                   first: first, J: J, shape).map(Double.init)
            for index in expected.indices {
                XCTAssertEqual(double[index], expected[index], accuracy: 1e-12, "double, portable \(portable), shape \(shape), entry \(index)")
                XCTAssertEqual(single[index], expected[index], accuracy: 1e-4, "single, portable \(portable), shape \(shape), entry \(index)")
            }
        }
    }

    private func timesSmall<T: TensorScalar>(_ X: [T], _ W: [T], _ shape: (rows: Int, columns: Int, rank: Int)) -> [T] {
        var Y = [T](repeating: .nan, count: shape.rows * shape.rank)
        X.withUnsafeBufferPointer { X in
            W.withUnsafeBufferPointer { W in
                Y.withUnsafeMutableBufferPointer { Y in
                    T.timesSmall(X.baseAddress!, rows: shape.rows, columns: shape.columns, W.baseAddress!,
                                 rank: shape.rank, into: Y.baseAddress!)
                }
            }
        }
        return Y
    }

    private func khatriRao<T: TensorScalar>(_ X: [T], _ A: [T], _ B: [T], start: [T], first: Int, J: Int,
                                            _ shape: (rows: Int, columns: Int, rank: Int)) -> [T] {
        var M = start
        X.withUnsafeBufferPointer { X in
            A.withUnsafeBufferPointer { A in
                B.withUnsafeBufferPointer { B in
                    M.withUnsafeMutableBufferPointer { M in
                        T.transposeTimesKhatriRao(X.baseAddress!, first: first, rows: shape.rows, columns: shape.columns,
                                                  A.baseAddress!, B.baseAddress!, rowsOfB: J, rank: shape.rank,
                                                  into: M.baseAddress!)
                    }
                }
            }
        }
        return M
    }
}
