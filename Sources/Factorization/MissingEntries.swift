import Dispatch
import LinearAlgebra

/// The NaN entries of a data matrix, fitted by majorization–minimization: before each iteration every missing
/// entry is set to the current model's value, and one update of the complete-data objective is taken.
///
/// Why this masks the entries out rather than imputing them: with X̃ filled at (W₀, H₀),
/// ‖M ⊙ (X − W·H)‖² ≤ ‖X̃ − W·H‖² for all W, H, with equality at (W₀, H₀), so any step that lowers the
/// complete-data objective lowers the masked one (the EM argument of Srebro & Jaakkola 2003 for weighted low-rank
/// approximation). The fixed points are those of the masked objective, and the per-iteration cost stays two GEMMs
/// plus rank flops per missing entry, where weighted HALS would need rank passes over the whole matrix.
/// The held-out values never enter the fit: only the model writes them.
struct MissingEntries {
    /// Flat row-major indices of the missing entries, ascending.
    let indices: [Int]
    let rows: Int
    let columns: Int

    var isEmpty: Bool { indices.isEmpty }
    var count: Int { indices.count }

    /// Finds the NaN entries of `data` (rows × columns, row-major).
    init<T: BLASScalar>(nanIn data: UnsafeBufferPointer<T>, rows: Int, columns: Int) {
        var found: [Int] = []
        for index in 0..<data.count where data[index].isNaN { found.append(index) }
        self.indices = found
        self.rows = rows
        self.columns = columns
    }

    /// Puts NaN back into the missing entries, so that the caller's array reads as it did before the fit.
    func restoreNaN<T: BLASScalar>(_ data: UnsafeMutableBufferPointer<T>) {
        for index in indices { data[index] = .nan }
    }

    /// The first fill, before any model exists: each row's observed mean (the overall mean for a row with
    /// nothing observed). Returns the sum of squares of the observed entries.
    func fillWithRowMeans<T: BLASScalar>(_ data: UnsafeMutableBufferPointer<T>) -> Double {
        var overallSum = 0.0, overallCount = 0
        var rowMeans = [Double](repeating: .nan, count: rows)
        for row in 0..<rows {
            var sum = 0.0, count = 0
            for value in data[(row * columns)..<((row + 1) * columns)] where !value.isNaN {
                sum += Double(value)
                count += 1
            }
            if count > 0 { rowMeans[row] = sum / Double(count) }
            overallSum += sum
            overallCount += count
        }
        let overallMean = overallCount > 0 ? overallSum / Double(overallCount) : 0
        var observedSquares = 0.0
        for value in data where !value.isNaN { observedSquares += Double(value) * Double(value) }
        for index in indices {
            let mean = rowMeans[index / columns]
            data[index] = T(mean.isNaN ? overallMean : mean)
        }
        return observedSquares
    }

    /// Sets every missing entry to (offset + W·H) at it and returns Σ (old value − new value)² over them, the
    /// amount by which the complete-data residual of the new model overstates its masked residual.
    ///
    /// `W` is rows × rank and `Ht` columns × rank (both row-major, so each entry is a contiguous dot product);
    /// `rowOffsets` (PCA's means) may be empty. Runs on `threads` concurrent row ranges.
    func impute<T: BLASScalar>(_ data: UnsafeMutableBufferPointer<T>, W: [T], Ht: [T], rank: Int,
                               rowOffsets: [T] = [], threads: Int) -> Double {
        if indices.isEmpty { return 0 }
        let chunks = max(1, min(threads, indices.count / 4096 + 1))
        var partial = [Double](repeating: 0, count: chunks)
        // Disjoint ranges of `indices` write disjoint entries of `data` and their own slot of `partial`.
        let shared = SharedBuffers(data: data.baseAddress!, indices: indices, W: W, Ht: Ht, offsets: rowOffsets)
        let columns = self.columns
        let results = PartialSums(count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let count = shared.indices.count
            let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
            var squaredChange = 0.0
            for position in start..<end {
                let index = shared.indices[position]
                let row = index / columns, column = index - row * columns
                var value: T = shared.offsets.isEmpty ? 0 : shared.offsets[row]
                let w = row * rank, h = column * rank
                for component in 0..<rank { value += shared.W[w + component] * shared.Ht[h + component] }
                let change = Double(shared.data[index]) - Double(value)
                squaredChange += change * change
                shared.data[index] = value
            }
            results.set(chunk, squaredChange)
        }
        partial = results.values
        return partial.reduce(0, +)
    }

    /// Σ over the missing entries of their current (imputed) values squared.
    func sumOfSquares<T: BLASScalar>(_ data: UnsafeBufferPointer<T>) -> Double {
        var sum = 0.0
        for index in indices { sum += Double(data[index]) * Double(data[index]) }
        return sum
    }
}

/// The arrays `impute` shares with its concurrent workers, which write disjoint entries of `data` only.
private struct SharedBuffers<T: BLASScalar>: @unchecked Sendable {
    let data: UnsafeMutablePointer<T>
    let indices: [Int]
    let W: [T]
    let Ht: [T]
    let offsets: [T]
}

/// One slot per worker.
private final class PartialSums: @unchecked Sendable {
    private(set) var values: [Double]
    init(count: Int) { values = [Double](repeating: 0, count: count) }
    func set(_ slot: Int, _ value: Double) { values.withUnsafeMutableBufferPointer { $0[slot] = value } }
}
