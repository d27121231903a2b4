import LinearAlgebra
import NFXCore
import Simulation
@testable import Factorization

/// Planted data from `nfx simulate matrix`'s generator.
func plantedMatrix(units: Int = 60, time: Int = 200, rank: Int = 4, noise: Double = 0,
                   seed: UInt64 = 1) throws -> SimulatedMatrix {
    try MatrixSimulation(units: units, time: time, rank: rank, noise: noise, seed: seed).generate()
}

/// Mean over planted components of the best-matched cosine between columns of W (and rows of H).
func matchedCosine(_ found: Matrix, _ truth: Matrix, columnsAreComponents: Bool) -> Double {
    let a = columnsAreComponents ? found : found.transposed
    let b = columnsAreComponents ? truth : truth.transposed
    let similarity = ComponentSimilarity.cosineMatrix(a, b)
    let assignment = OptimalAssignment.maximizing(scores: similarity, rows: a.columns, columns: b.columns)
    var total = 0.0
    for (row, column) in assignment.enumerated() { if let column { total += similarity[row * b.columns + column] } }
    return total / Double(b.columns)
}

func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    var difference = 0.0, norm = 0.0
    for index in a.indices {
        difference += (a[index] - b[index]) * (a[index] - b[index])
        norm += b[index] * b[index]
    }
    return (difference / max(norm, .leastNormalMagnitude)).squareRoot()
}
