import Foundation
import LinearAlgebra
import NFXCore

/// Building blocks shared by the matrix and tensor generators.
enum Components {
    /// Non-negative, sparse loadings (`count` × `rank`): each unit belongs strongly to one ensemble and, with
    /// probability 0.3, weakly to a second one.
    ///
    /// Assignments are a shuffled round-robin, so every ensemble has at least one member whenever `rank ≤ count`: an
    /// empty column would make the planted rank smaller than advertised. Exponential weights give the skewed
    /// participation seen in recorded ensembles; the primary weight is offset by 0.25 so that membership is never
    /// vanishingly weak. Sparse, non-negative factors also make the NMF/NCP solution essentially unique
    /// (Donoho & Stodden, "When does non-negative matrix factorization give a correct decomposition into parts?",
    /// NIPS 2003), which is what lets `compare` score a fit against this truth.
    static func sparseLoadings(count: Int, rank: Int, using rng: inout SeededGenerator) -> Matrix {
        var primary = (0..<count).map { $0 % rank }
        rng.shuffle(&primary)
        var loadings = Matrix(rows: count, columns: rank)
        for unit in 0..<count {
            loadings[unit, primary[unit]] = 0.25 + rng.exponential()
            if rank > 1 && rng.uniform() < 0.3 {
                var second = rng.int(below: rank - 1)
                if second >= primary[unit] { second += 1 }
                loadings[unit, second] = 0.5 * rng.exponential()
            }
        }
        return loadings
    }

    /// Population standard deviation, accumulated with Welford's update so large arrays lose no precision.
    static func standardDeviation(_ values: [Double]) -> Double {
        var mean = 0.0, sumSquares = 0.0, n = 0.0
        for value in values {
            n += 1
            let delta = value - mean
            mean += delta / n
            sumSquares += delta * (value - mean)
        }
        return n > 0 ? (sumSquares / n).squareRoot() : 0
    }

    /// `max(0, clean + σ·ε)` with σ = `noise` × std(clean) and ε standard normal.
    ///
    /// `--noise` is relative so that one value means the same signal-to-noise ratio at any size or rank. The clip keeps
    /// the data non-negative, which NMF and non-negative CP require; it biases entries near zero upwards, so the
    /// realised noise is slightly smaller than σ there. With `noise == 0` the clean values are returned unchanged.
    static func addRelativeNoise(_ clean: [Double], noise: Double, using rng: inout SeededGenerator) -> [Double] {
        guard noise > 0 else { return clean }
        let sigma = noise * standardDeviation(clean)
        var data = clean
        for index in data.indices {
            data[index] = max(0, data[index] + sigma * rng.normal())
        }
        return data
    }

    /// Runs a BLAS product, reporting a failure (only possible for sizes `Check.size` already refuses) as a
    /// `SimulationError`.
    static func product(_ a: Matrix, _ b: Matrix, transposeB: Bool = false) throws -> Matrix {
        do {
            return try multiply(a, b, transposeB: transposeB)
        } catch {
            throw SimulationError.tooLarge(message: "\(error)")
        }
    }
}
