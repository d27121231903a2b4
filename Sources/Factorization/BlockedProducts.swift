import Dispatch
import LinearAlgebra
import NFXCore

/// Products of a large data matrix X (m × n, row-major) with a skinny factor, as one single-threaded GEMM per
/// fixed row block of X on up to `threads` threads.
///
/// Why: OpenBLAS' own threading of these shapes (one side only 10–30 wide) is poor; two single-threaded halves
/// ran 1.5–1.9× faster here. The four blocks do not depend on the thread count, and the partial sums of the
/// transposed product are added in block order, so results do not depend on it either.
enum BlockedProducts {
    static let blocks = 4

    /// C (m × k) = X·op(F), op(F) n × k: F is k × n when `factorTransposed`, else n × k. Rows of C by block.
    static func dataTimesFactor<T: BLASScalar>(_ X: UnsafePointer<T>, rows m: Int, columns n: Int,
                                               factor F: UnsafePointer<T>, width k: Int, factorTransposed: Bool,
                                               into C: UnsafeMutablePointer<T>, threads: Int) throws {
        let shared = Shared(X: X, F: F, C: C)
        try run(rows: m, threads: threads) { _, first, count in
            try GenericBLAS.gemm(transposeA: false, transposeB: factorTransposed, rows: count, columns: k, inner: n,
                                 shared.X + first * n, n, shared.F, factorTransposed ? n : k,
                                 shared.C + first * k, k)
        }
    }

    /// C (n × k) = Xᵀ·op(F), op(F) m × k: F is k × m when `factorTransposed`, else m × k. Each block's partial
    /// product is summed into C in block order.
    static func transposedDataTimesFactor<T: BLASScalar>(_ X: UnsafePointer<T>, rows m: Int, columns n: Int,
                                                         factor F: UnsafePointer<T>, width k: Int,
                                                         factorTransposed: Bool, into C: UnsafeMutablePointer<T>,
                                                         threads: Int) throws {
        let partials = PartialProducts<T>(blocks: blocks, size: n * k)
        let shared = Shared(X: X, F: F, C: C)
        try run(rows: m, threads: threads) { block, first, count in
            let F = factorTransposed ? shared.F + first : shared.F + first * k
            try GenericBLAS.gemm(transposeA: true, transposeB: factorTransposed, rows: n, columns: k, inner: count,
                                 shared.X + first * n, n, F, factorTransposed ? m : k,
                                 partials.block(block), k)
        }
        C.update(from: partials.block(0), count: n * k)
        for block in 1..<blocks {
            let partial = partials.block(block)
            for index in 0..<(n * k) { C[index] += partial[index] }
        }
    }

    private static func run(rows: Int, threads: Int,
                            _ body: @escaping @Sendable (_ block: Int, _ first: Int, _ count: Int) throws -> Void) throws {
        let workers = max(1, min(threads, blocks))
        let failures = ConcurrentSlots<Error>(count: blocks)
        withSingleThreadedBLAS {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for block in stride(from: worker, to: blocks, by: workers) {
                    let first = rows * block / blocks, end = rows * (block + 1) / blocks
                    do { try body(block, first, end - first) } catch { failures.set(block, error) }
                }
            }
        }
        if let failure = failures.values.compactMap({ $0 }).first { throw failure }
    }

    private struct Shared<T>: @unchecked Sendable {
        let X: UnsafePointer<T>
        let F: UnsafePointer<T>
        let C: UnsafeMutablePointer<T>
    }
}

/// One zeroed n × k buffer per block, for the partial sums of a transposed product.
private final class PartialProducts<T: BLASScalar>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<T>
    private let size: Int
    private let count: Int

    init(blocks: Int, size: Int) {
        self.size = size
        self.count = blocks
        storage = .allocate(capacity: max(1, blocks * size))
        storage.initialize(repeating: 0, count: blocks * size)
    }

    func block(_ index: Int) -> UnsafeMutablePointer<T> { storage + index * size }

    deinit { storage.deallocate() }
}
