internal import COpenBLAS

/// OpenBLAS' worker-thread count, a process-wide setting owned by OpenBLAS; nothing is cached on the Swift side.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for each call (`openblas_set_num_threads`).
    /// OpenBLAS may cap it at the maximum it was built for; read `count` for the effective value.
    /// One thread also stops OpenBLAS' workers: idle, they spin on a core for a while (about 0.1 s after start-up,
    /// the whole of a short run) that the caller's own threads need. A later count above one starts them again.
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLASThreads.set: thread count must be at least 1, got \(count)")
        nfx_openblas_set_num_threads(Int32(clamping: count))
        if count == 1 { nfx_openblas_stop_worker_threads() }
    }

    /// The number of threads OpenBLAS currently uses (`openblas_get_num_threads`).
    public static var count: Int {
        Int(nfx_openblas_get_num_threads())
    }

    /// OpenBLAS' build configuration and the CPU kernel it selected at load time, for logs and bug reports,
    /// e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64; core: Haswell".
    public static var configuration: String {
        let config = nfx_openblas_get_config().map { String(cString: $0) } ?? "unknown"
        let core = nfx_openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        return "\(config); core: \(core)"
    }
}

/// Runs `body` with OpenBLAS limited to one thread and restores the previous count afterwards, even on throw.
///
/// Use it around a region you parallelise yourself (e.g. fitting each neuron on its own task): BLAS threads
/// inside already-parallel tasks oversubscribe the cores and run slower. Because the count is process-wide,
/// call it once from the coordinating thread around the whole parallel region, not inside each task.
public func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
    let previous = BLASThreads.count
    BLASThreads.set(1)
    defer { BLASThreads.set(previous) }
    return try body()
}
