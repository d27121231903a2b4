import Dispatch
import LinearAlgebra
import NFXCore

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

    /// `indices`: flat row-major indices of NaN entries, ascending (found by `DataSummary`).
    init(indices: [Int], rows: Int, columns: Int) {
        self.indices = indices
        self.rows = rows
        self.columns = columns
    }

    /// Puts NaN back into the missing entries, so that the caller's array reads as it did before the fit.
    func restoreNaN<T: BLASScalar>(_ data: UnsafeMutableBufferPointer<T>) {
        for index in indices { data[index] = .nan }
    }

    /// The first fill, before any model exists: each row's observed mean (`DataSummary.rowMeans`).
    func fill<T: BLASScalar>(_ data: UnsafeMutableBufferPointer<T>, rowMeans: [Double]) {
        for index in indices { data[index] = T(rowMeans[index / columns]) }
    }

    /// What re-filling the missing entries changed.
    struct Refill {
        /// Σ (old value − new value)²: by how much the complete-data residual of the new model overstates its
        /// masked residual.
        var squaredChange: Double
        /// Σ new² − Σ old²: the change of the filled matrix's sum of squares.
        var squaresChange: Double
    }

    /// Sets every missing entry to (offset + W·H) at it.
    ///
    /// `W` is rows × rank and `Ht` columns × rank (both row-major, so each entry is a contiguous dot product);
    /// `rowOffsets` (PCA's means) may be empty. Runs on `threads` concurrent ranges of the (ascending) indices.
    func refill<T: BLASScalar>(_ data: UnsafeMutableBufferPointer<T>, W: [T], Ht: [T], rank: Int,
                               rowOffsets: [T] = [], threads: Int) -> Refill {
        if indices.isEmpty { return Refill(squaredChange: 0, squaresChange: 0) }
        // A fixed number of chunks, shared out over the workers and summed in order, so that the sums (and so
        // the objective) are the same for any thread count.
        let chunks = max(1, min(16, indices.count / 4096 + 1))
        let workers = max(1, min(threads, chunks))
        let columns = self.columns
        let results = ConcurrentSlots<Refill>(count: chunks)
        W.withUnsafeBufferPointer { W in
            Ht.withUnsafeBufferPointer { Ht in
                indices.withUnsafeBufferPointer { indices in
                    rowOffsets.withUnsafeBufferPointer { offsets in
                        // Disjoint ranges of `indices` write disjoint entries of `data` and their own result slot.
                        let shared = SharedBuffers(data: data.baseAddress!, indices: indices.baseAddress!,
                                                   count: indices.count, W: W.baseAddress!, Ht: Ht.baseAddress!,
                                                   offsets: offsets.isEmpty ? nil : offsets.baseAddress)
                        DispatchQueue.concurrentPerform(iterations: workers) { worker in
                            for chunk in stride(from: worker, to: chunks, by: workers) {
                                let range = (shared.count * chunk / chunks)..<(shared.count * (chunk + 1) / chunks)
                                results.set(chunk, Self.refill(shared, positions: range, columns: columns, rank: rank))
                            }
                        }
                    }
                }
            }
        }
        let parts = results.values.compactMap { $0 }
        return Refill(squaredChange: parts.reduce(0) { $0 + $1.squaredChange },
                      squaresChange: parts.reduce(0) { $0 + $1.squaresChange })
    }

    /// Refills the missing entries at `positions` of the index list.
    private static func refill<T: BLASScalar>(_ shared: SharedBuffers<T>, positions: Range<Int>, columns: Int,
                                              rank: Int) -> Refill {
        var squaredChange = 0.0, squaresChange = 0.0
        // Indices ascend, so the row changes rarely: divide only when it does.
        var row = -1, rowStart = 0, rowEnd = 0
        var offset: T = 0
        for position in positions {
            let index = shared.indices[position]
            if index >= rowEnd {
                row = index / columns
                rowStart = row * columns
                rowEnd = rowStart + columns
                offset = shared.offsets?[row] ?? 0
            }
            let w = shared.W + row * rank, h = shared.Ht + (index - rowStart) * rank
            var value = offset
            for component in 0..<rank { value += w[component] * h[component] }
            let old = Double(shared.data[index]), new = Double(value)
            squaredChange += (old - new) * (old - new)
            squaresChange += new * new - old * old
            shared.data[index] = value
        }
        return Refill(squaredChange: squaredChange, squaresChange: squaresChange)
    }

    /// Σ over the missing entries of their current (imputed) values squared.
    func sumOfSquares<T: BLASScalar>(_ data: UnsafeBufferPointer<T>) -> Double {
        var sum = 0.0
        for index in indices { sum += Double(data[index]) * Double(data[index]) }
        return sum
    }
}

/// The buffers `refill` shares with its concurrent workers, which write disjoint entries of `data` only.
private struct SharedBuffers<T: BLASScalar>: @unchecked Sendable {
    let data: UnsafeMutablePointer<T>
    let indices: UnsafePointer<Int>
    let count: Int
    let W: UnsafePointer<T>
    let Ht: UnsafePointer<T>
    let offsets: UnsafePointer<T>?
}
