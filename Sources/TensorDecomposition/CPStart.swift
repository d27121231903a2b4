import Factorization
import Foundation
import LinearAlgebra
import NFXCore

/// Starting factors for a CP fit, transposed (rank × dim per mode).
enum CPStart {
    static func factors<T: FactorizationScalar>(_ X: UnsafeBufferPointer<T>, shape: [Int], options: CPOptions,
                                                dataNorm: Double) throws -> [[T]] {
        let R = options.rank
        var generator = SeededGenerator(seed: options.seed)
        switch options.initialization {
        case let .given(matrices):
            guard matrices.count == shape.count,
                  zip(matrices, shape).allSatisfy({ $0.rows == $1 && $0.columns == R }) else {
                throw TensorDecompositionError.invalidInitialFactors(
                    "need one dim × \(R) matrix per mode for shape \(shape), got \(matrices.map { "\($0.rows) × \($0.columns)" })")
            }
            guard matrices.allSatisfy({ $0.elements.allSatisfy(\.isFinite) }) else {
                throw TensorDecompositionError.invalidInitialFactors("the factors must be finite")
            }
            if options.method == .ncp && matrices.contains(where: { $0.elements.contains { $0 < 0 } }) {
                throw TensorDecompositionError.invalidInitialFactors("non-negative CP needs non-negative factors")
            }
            return matrices.map { $0.transposed.elements.map { T($0) } }
        case .random:
            var factors = shape.map { dim in (0..<(R * dim)).map { _ in generator.uniform(in: 0..<1) } }
            // Scale so that the model's norm matches the data's, the same power in every mode.
            var modelSquares = 0.0
            let grams = zip(factors, shape).map { factor, dim -> [Double] in
                (0..<(R * R)).map { index in
                    let (r, s) = (index / R, index % R)
                    return (0..<dim).reduce(0.0) { $0 + factor[r * dim + $1] * factor[s * dim + $1] }
                }
            }
            for index in 0..<(R * R) { modelSquares += grams.reduce(1.0) { $0 * $1[index] } }
            let scale = modelSquares > 0 ? pow(dataNorm / modelSquares.squareRoot(), 1 / Double(shape.count)) : 1
            for mode in factors.indices { factors[mode] = factors[mode].map { $0 * scale } }
            return factors.map { $0.map { T($0) } }
        case .svd:
            return try (0..<shape.count).map { mode in
                let vectors = try leadingLeftSingularVectors(X, shape: shape, mode: mode, count: min(R, shape[mode]))
                var factor = [T](repeating: 0, count: R * shape[mode])
                for r in 0..<R {
                    for i in 0..<shape[mode] {
                        let value = r < vectors.columns ? vectors[i, r] : generator.uniform(in: 0..<1)
                        factor[r * shape[mode] + i] = T(options.method == .ncp ? abs(value) : value)
                    }
                }
                return factor
            }
        }
    }

    /// The leading left singular vectors of the mode-n unfolding, as eigenvectors of its Gram matrix
    /// X_(n)·X_(n)ᵀ (dim × dim), which a GEMM or SYRK over the tensor gives without copying an unfolding.
    static func leadingLeftSingularVectors<T: FactorizationScalar>(_ X: UnsafeBufferPointer<T>, shape: [Int], mode: Int,
                                                                   count: Int) throws -> Matrix {
        let (I, J, K) = (shape[0], shape[1], shape[2])
        let dim = shape[mode]
        var gram = [T](repeating: 0, count: dim * dim)
        try gram.withUnsafeMutableBufferPointer { G in
            let data = X.baseAddress!
            switch mode {
            case 0:   // X as I × (J·K)
                try GenericBLAS.gram(transpose: false, size: I, inner: J * K, data, J * K, into: G.baseAddress!)
            case 2:   // X as (I·J) × K
                try GenericBLAS.gram(transpose: true, size: K, inner: I * J, data, K, into: G.baseAddress!)
            default:  // Σ_i X_i·X_iᵀ over the J × K slices
                for i in 0..<I {
                    try GenericBLAS.gemm(transposeA: false, transposeB: true, rows: J, columns: J, inner: K,
                                         data + i * J * K, K, data + i * J * K, K, beta: i == 0 ? 0 : 1,
                                         G.baseAddress!, J)
                }
            }
        }
        let decomposition: (values: [Double], vectors: Matrix)
        do {
            decomposition = try symmetricEigen(Matrix(rows: dim, columns: dim, elements: gram.map { Double($0) }))
        } catch {
            throw TensorDecompositionError.numerical("SVD initialisation of mode \(mode): \(error)")
        }
        // symmetricEigen sorts ascending: the leading vectors are the last columns.
        var result = Matrix(rows: dim, columns: count)
        for c in 0..<count {
            for i in 0..<dim { result[i, c] = decomposition.vectors[i, dim - 1 - c] }
        }
        return result
    }
}

/// The output conventions: unit-norm factor columns, the scale in the weights, components sorted by weight.
enum CPNormalization {
    /// `factors` are dim × rank, row-major, Float64. With `signFix`, every mode but the first has its
    /// largest-magnitude entry positive (flips absorbed by the first mode), so CP results are reproducible.
    static func normalizedAndSorted(_ factors: [[Double]], dims: [Int], rank R: Int,
                                    signFix: Bool) -> (factors: [Matrix], weights: [Double]) {
        var matrices = zip(factors, dims).map { Matrix(rows: $1, columns: R, elements: $0) }
        var weights = [Double](repeating: 1, count: R)
        for mode in matrices.indices {
            for r in 0..<R {
                let norm = (0..<dims[mode]).reduce(0.0) { $0 + matrices[mode][$1, r] * matrices[mode][$1, r] }.squareRoot()
                weights[r] *= norm
                for i in 0..<dims[mode] { matrices[mode][i, r] = norm > 0 ? matrices[mode][i, r] / norm : 0 }
            }
        }
        if signFix {
            for mode in 1..<matrices.count {
                for r in 0..<R {
                    var largest = 0.0
                    for i in 0..<dims[mode] where abs(matrices[mode][i, r]) > abs(largest) { largest = matrices[mode][i, r] }
                    guard largest < 0 else { continue }
                    for i in 0..<dims[mode] { matrices[mode][i, r] = -matrices[mode][i, r] }
                    for i in 0..<dims[0] { matrices[0][i, r] = -matrices[0][i, r] }
                }
            }
        }
        // A component at HALS' 10⁻¹⁶ floor is dead: written as zeros.
        let largestWeight = weights.max() ?? 0
        for r in 0..<R where weights[r] <= 1e-12 * largestWeight {
            weights[r] = 0
            for mode in matrices.indices { for i in 0..<dims[mode] { matrices[mode][i, r] = 0 } }
        }
        let order = (0..<R).sorted { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
        let sorted = matrices.map { matrix in
            var result = Matrix(rows: matrix.rows, columns: R)
            for (position, r) in order.enumerated() {
                for i in 0..<matrix.rows { result[i, position] = matrix[i, r] }
            }
            return result
        }
        return (sorted, order.map { weights[$0] })
    }
}
