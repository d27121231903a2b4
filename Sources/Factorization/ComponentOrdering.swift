import LinearAlgebra

/// The conventions of every factorization nfx writes: W's columns have unit norm (their scale moves into H's
/// rows) and components are sorted by their contribution ‖W_k‖·‖H_k‖ to the fit, largest first. A component
/// contributing less than 10⁻¹² of the largest is dead (e.g. removed by an L1 penalty) and is written as zeros.
enum ComponentOrdering {
    /// From the solver layout (Wt rank × rows, H rank × columns) to W rows × rank and H rank × columns.
    static func normalizedAndSorted(Wt: [Double], H: [Double], rank k: Int, rows m: Int,
                                    columns n: Int) -> (W: Matrix, H: Matrix) {
        var norms = [Double](repeating: 0, count: k)
        var contributions = [Double](repeating: 0, count: k)
        for component in 0..<k {
            var wSquares = 0.0, hSquares = 0.0
            for i in 0..<m { wSquares += Wt[component * m + i] * Wt[component * m + i] }
            for t in 0..<n { hSquares += H[component * n + t] * H[component * n + t] }
            norms[component] = wSquares.squareRoot()
            contributions[component] = (wSquares * hSquares).squareRoot()
        }
        // A component HALS kept alive at its 10⁻¹⁶ floor (see `FactorUpdate.hals`) is written as exactly zero.
        let largest = contributions.max() ?? 0
        for component in 0..<k where contributions[component] <= 1e-12 * largest {
            contributions[component] = 0
            norms[component] = 0
        }
        // Stable sort, so that equal contributions (e.g. zero components) keep the solver's order.
        let order = (0..<k).sorted { contributions[$0] > contributions[$1] || (contributions[$0] == contributions[$1] && $0 < $1) }
        var W = Matrix(rows: m, columns: k)
        var sortedH = Matrix(rows: k, columns: n)
        for (position, component) in order.enumerated() {
            let norm = norms[component]
            for i in 0..<m { W.elements[i * k + position] = norm > 0 ? Wt[component * m + i] / norm : 0 }
            for t in 0..<n { sortedH.elements[position * n + t] = norm > 0 ? H[component * n + t] * norm : 0 }
        }
        return (W, sortedH)
    }
}
