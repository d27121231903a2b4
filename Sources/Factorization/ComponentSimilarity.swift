import LinearAlgebra
import NFXCore

/// How alike two factorizations are, component by component, independent of order, sign and scale.
public enum ComponentSimilarity {
    /// Cosines between the columns of A (d × a) and of B (d × b), a × b row-major; a zero column has cosine 0.
    public static func cosineMatrix(_ A: Matrix, _ B: Matrix) -> [Double] {
        precondition(A.rows == B.rows, "cosineMatrix: \(A.rows) and \(B.rows) rows")
        let norms = { (M: Matrix) -> [Double] in
            (0..<M.columns).map { column in
                (0..<M.rows).reduce(0.0) { $0 + M[$1, column] * M[$1, column] }.squareRoot()
            }
        }
        let (normsA, normsB) = (norms(A), norms(B))
        let products = (try? multiply(A, B, transposeA: true)) ?? Matrix(rows: A.columns, columns: B.columns)
        var cosines = products.elements
        for i in 0..<A.columns {
            for j in 0..<B.columns {
                let scale = normsA[i] * normsB[j]
                cosines[i * B.columns + j] = scale > 0 ? products[i, j] / scale : 0
            }
        }
        return cosines
    }

    /// The similarity score of Williams et al. (2018) for two low-rank fits W·H: components are paired by an
    /// optimal assignment maximising Σ cos(W_i, W'_j)·cos(H_i, H'_j), and the paired products are averaged
    /// over the larger rank, so that an extra or missing component counts as 0. 1 means the same components.
    public static func score(W first: Matrix, H firstH: Matrix, W second: Matrix, H secondH: Matrix) -> Double {
        let (a, b) = (first.columns, second.columns)
        let largest = max(a, b)
        if largest == 0 { return 1 }
        if a == 0 || b == 0 { return 0 }
        let loadings = cosineMatrix(first, second)
        let activities = cosineMatrix(firstH.transposed, secondH.transposed)
        let products = zip(loadings, activities).map { $0 * $1 }
        let pairs = OptimalAssignment.maximizing(scores: products, rows: a, columns: b)
        var total = 0.0
        for (row, column) in pairs.enumerated() { if let column { total += products[row * b + column] } }
        return total / Double(largest)
    }
}
