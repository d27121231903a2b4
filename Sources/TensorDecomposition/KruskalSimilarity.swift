import LinearAlgebra
import NFXCore

/// The similarity of two CP models from Williams et al. (2018, Neuron, STAR Methods): components are paired by an
/// optimal assignment, each pair scores the product over modes of the cosines of its factors times the weight
/// agreement 1 − |w − w′| / max(w, w′), and the scores are averaged over the larger rank (an unpaired component
/// scores 0). It is 1 for the same model up to permutation, rescaling and sign flips that cancel, and less for
/// any other difference.
public enum KruskalSimilarity {
    public static func score(_ first: CPResult, _ second: CPResult) -> Double {
        score(factors: first.factors, weights: first.weights, factors: second.factors, weights: second.weights)
    }

    public static func score(factors first: [Matrix], weights firstWeights: [Double], factors second: [Matrix],
                             weights secondWeights: [Double]) -> Double {
        let (a, b) = (firstWeights.count, secondWeights.count)
        let largest = max(a, b)
        if largest == 0 { return 1 }
        if a == 0 || b == 0 { return 0 }
        precondition(first.count == second.count, "KruskalSimilarity: models of order \(first.count) and \(second.count)")
        var scores = [Double](repeating: 1, count: a * b)
        for mode in first.indices {
            let cosines = columnCosines(first[mode], second[mode])
            for index in scores.indices { scores[index] *= cosines[index] }
        }
        for i in 0..<a {
            for j in 0..<b {
                let (u, v) = (abs(firstWeights[i]), abs(secondWeights[j]))
                let agreement = max(u, v) > 0 ? 1 - abs(u - v) / max(u, v) : 1
                scores[i * b + j] *= agreement
            }
        }
        let pairs = OptimalAssignment.maximizing(scores: scores, rows: a, columns: b)
        var total = 0.0
        for (row, column) in pairs.enumerated() { if let column { total += scores[row * b + column] } }
        return total / Double(largest)
    }

    /// Cosines between the columns of A (d × a) and B (d × b), a × b; a zero column has cosine 0.
    static func columnCosines(_ A: Matrix, _ B: Matrix) -> [Double] {
        precondition(A.rows == B.rows, "KruskalSimilarity: factors with \(A.rows) and \(B.rows) rows")
        var result = [Double](repeating: 0, count: A.columns * B.columns)
        let normsA = (0..<A.columns).map { c in (0..<A.rows).reduce(0.0) { $0 + A[$1, c] * A[$1, c] }.squareRoot() }
        let normsB = (0..<B.columns).map { c in (0..<B.rows).reduce(0.0) { $0 + B[$1, c] * B[$1, c] }.squareRoot() }
        for i in 0..<A.columns {
            for j in 0..<B.columns {
                var dot = 0.0
                for row in 0..<A.rows { dot += A[row, i] * B[row, j] }
                let scale = normsA[i] * normsB[j]
                result[i * B.columns + j] = scale > 0 ? dot / scale : 0
            }
        }
        return result
    }
}
