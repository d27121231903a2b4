import CKernels
import Foundation
import NFXCore

/// OASIS for AR(1) calcium (Friedrich, Zhou & Paninski, "Fast online deconvolution of calcium imaging data",
/// PLoS Comput. Biol. 2017, Algorithm 1): the exact solution of
///
///     minimise ½‖c − y‖² + λ Σ_t s_t   subject to   s_t = c_t − g c_{t−1} ≥ s_min or s_t = 0,
///
/// in time linear in the trace length. A pool is a run of frames explained by one spike at its start, so c decays
/// as v·g^k inside it; a new frame that would need a negative spike (or one below s_min) at a junction is merged
/// into the pool before it, whose value becomes the least-squares fit of all its frames.
///
/// The L1 term is folded into the data: Σ s_t = (1 − g) Σ_{t<T−1} c_t + c_{T−1}, so the objective equals
/// ½‖c − (y − λμ)‖² plus a constant, with μ_t = 1 − g except μ_{T−1} = 1. As in OASIS, the first frame is the
/// initial calcium level rather than a spike (s_0 = 0), and NaN frames add length to a pool but no data.
final class AR1Pools {
    /// Per pool: Σ g^k y_{t+k} over its frames (NaN frames skipped), Σ g^{2k}, their ratio (the fitted value at
    /// the pool's first frame), first frame, length; and g^k for k = 0…computed, extended on demand up to
    /// capacity, so that no merge pays for exp(). Pools are short, so the table rarely grows far: filling it for
    /// the whole trace up front cost more than the solve. The solve itself runs in CKernels' oasis.c.
    let sums: UnsafeMutablePointer<Double>
    let values: UnsafeMutablePointer<Double>
    let weights: UnsafeMutablePointer<Double>
    let starts: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    private(set) var count = 0
    let capacity: Int
    private let powers: UnsafeMutablePointer<Double>
    private let powersComputed: UnsafeMutablePointer<Int>
    private let powersFor: UnsafeMutablePointer<Double>
    /// The C view of these buffers.
    let storage: nfx_ar1_pools

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        sums = .allocate(capacity: self.capacity)
        values = .allocate(capacity: self.capacity)
        weights = .allocate(capacity: self.capacity)
        starts = .allocate(capacity: self.capacity)
        lengths = .allocate(capacity: self.capacity)
        powers = .allocate(capacity: self.capacity + 1)
        powers[0] = 1
        powersComputed = .allocate(capacity: 1)
        powersComputed.pointee = 0
        powersFor = .allocate(capacity: 1)
        powersFor.pointee = .nan
        storage = nfx_ar1_pools(sums: sums, weights: weights, values: values, starts: starts, lengths: lengths,
                                powers: powers, powers_computed: powersComputed, powers_for: powersFor,
                                capacity: self.capacity)
    }

    deinit {
        sums.deallocate()
        values.deallocate()
        weights.deallocate()
        starts.deallocate()
        lengths.deallocate()
        powers.deallocate()
        powersComputed.deallocate()
        powersFor.deallocate()
    }

    /// g^k for the g of the last solve.
    func power(_ k: Int) -> Double {
        withUnsafePointer(to: storage) { nfx_ar1_power($0, k) }
    }

    @inline(__always) func value(_ i: Int) -> Double { values[i] }

    func setCount(_ newCount: Int) { count = newCount }
}

public enum OASIS {
    /// Fills `calcium` and `spikes` (NaN where y is NaN) for AR(1) coefficient g, penalty λ and minimal spike
    /// size s_min (0: spikes are continuous amplitudes, the L1 problem). Returns the residual sum of squares over
    /// the observed frames.
    @discardableResult
    public static func ar1(_ y: UnsafeBufferPointer<Double>, g: Double, lambda: Double = 0, minimumSpike: Double = 0,
                           calcium c: UnsafeMutableBufferPointer<Double>,
                           spikes s: UnsafeMutableBufferPointer<Double>) -> Double {
        let pools = AR1Pools(capacity: y.count)
        return ar1(y, g: g, lambda: lambda, minimumSpike: minimumSpike, pools: pools, calcium: c, spikes: s)
    }

    /// Frames per chunk of the solve (see CKernels' oasis.h): chunks are solved apart, on as many threads as the
    /// caller gives, and joined. The size is fixed, so that the result does not depend on the thread count.
    static let chunkFrames = 1 << 15

    /// The same with caller-owned pools (reused across the many solves of a λ or baseline search), for y − b:
    /// the baseline is subtracted on the fly, and the residual returned is that of y − b − c. With s_min = 0 a
    /// trace longer than `chunkFrames` is solved in chunks on up to `threads` threads.
    ///
    /// `continuing` gives the λ and b of the previous solve with these pools, of the same y (no NaN frames) and g
    /// at s_min = 0: when λ(1 − g) + b has not decreased, that solve's pools are updated rather than the trace
    /// pooled again (`nfx_oasis_ar1_continue`) — the same solution, for a fraction of the work.
    ///
    /// Without `writesSpikes` (the steps of a λ search) only the calcium and the residual are computed, and NaN
    /// frames keep their bridged calcium; `spikes(of:…)` finishes the last one. Without `computesResidual` the
    /// residual is not summed and 0 is returned.
    ///
    /// With `statistics` (a trace without NaN frames, s_min = 0) nothing is written to c or s: the residual and
    /// what a λ step needs come from the pools and Σ (y − b)² (`nfx_ar1_pool_statistics`, kept in
    /// `statistics.latest`), and the pools keep their values. A later solve (or one `continuing` at the same λ and
    /// b) writes the solution.
    @discardableResult
    static func ar1(_ y: UnsafeBufferPointer<Double>, g: Double, lambda: Double, minimumSpike: Double,
                    baseline b: Double = 0, pools: AR1Pools, calcium c: UnsafeMutableBufferPointer<Double>,
                    spikes s: UnsafeMutableBufferPointer<Double>, threads: Int = 1,
                    chunkFrames: Int = OASIS.chunkFrames,
                    continuing previous: (lambda: Double, baseline: Double)? = nil,
                    writesSpikes: Bool = true, computesResidual: Bool = true,
                    statistics: PoolStatistics? = nil) -> Double {
        let T = y.count
        guard T > 0, let frames = y.baseAddress, let calcium = c.baseAddress, let spikes = s.baseAddress else {
            pools.setCount(0)
            return 0
        }
        // As few equal chunks of at most `chunkFrames` as cover the trace (equal, so that two threads share
        // T = 10⁵ evenly rather than 2 + 1 chunks of 2¹⁵ against 1 + a remainder), their boundaries moved to
        // observed frames (a chunk's first frame starts a pool); one chunk with s_min > 0, where the problem is
        // no longer an isotonic regression. The boundaries depend on T alone, not on the thread count.
        var bounds = [0]
        if minimumSpike == 0 {
            let count = (T + chunkFrames - 1) / chunkFrames, size = (T + count - 1) / count
            var next = size
            while next < T {
                var start = next
                while start < T && y[start].isNaN { start += 1 }
                if start < T { bounds.append(start) }
                next = max(next, start) + size
            }
        }
        bounds.append(T)
        let chunks = bounds.count - 1
        let solve = ChunkedAR1(frames: frames, T: T, bounds: bounds, g: g, lambda: lambda, minimumSpike: minimumSpike,
                               baseline: b, pools: pools, calcium: calcium, spikes: writesSpikes ? spikes : nil,
                               computesResidual: computesResidual)
        let workers = min(threads, chunks)
        func each(_ body: @escaping @Sendable (Int) -> Void) {
            if workers <= 1 {
                for k in 0..<chunks { body(k) }
            } else {
                SpinningTeam.shared.run(iterations: chunks, threads: workers, body)
            }
        }
        // The shift of every frame but the last (λ(1 − g) + b) may grow from the previous solve's, not shrink.
        let shift = lambda * (1 - g) + b
        let shiftChange = previous.map { shift - ($0.lambda * (1 - g) + $0.baseline) }
        let poolCount: Int
        if let shiftChange, minimumSpike == 0, pools.count > 0, shiftChange >= -1e-12 * (abs(shift) + 1) {
            poolCount = solve.continuePools(shiftChange: shiftChange, count: pools.count)
        } else {
            each { solve.solveChunk($0) }
            poolCount = solve.join()
        }
        pools.setCount(poolCount)
        if let statistics, minimumSpike == 0 {
            solve.poolStatistics(count: poolCount, into: statistics)
            return statistics.latest.residual
        }
        each { solve.finish($0, pools: poolCount) }
        return solve.residual
    }

    /// The spikes s_t = c_t − g c_{t−1} of a solution computed without them, and NaN calcium and spikes where y is
    /// NaN.
    static func spikes(of y: UnsafeBufferPointer<Double>, g: Double, calcium c: UnsafeMutableBufferPointer<Double>,
                       spikes s: UnsafeMutableBufferPointer<Double>) {
        guard let frames = y.baseAddress, let calcium = c.baseAddress, let spikes = s.baseAddress else { return }
        nfx_ar1_spikes(frames, y.count, g, calcium, spikes)
    }

    /// Array convenience.
    public static func ar1(_ y: [Double], g: Double, lambda: Double = 0, minimumSpike: Double = 0)
        -> (calcium: [Double], spikes: [Double]) {
        var c = [Double](repeating: 0, count: y.count), s = c
        y.withUnsafeBufferPointer { yp in
            c.withUnsafeMutableBufferPointer { cp in
                s.withUnsafeMutableBufferPointer { sp in
                    _ = ar1(yp, g: g, lambda: lambda, minimumSpike: minimumSpike, calcium: cp, spikes: sp)
                }
            }
        }
        return (c, s)
    }
}

/// One chunked AR(1) solve's shared state (see `OASIS.ar1`): every phase writes only its chunk's part of the
/// buffers, so the chunks run on any threads.
private final class ChunkedAR1: @unchecked Sendable {
    let frames: UnsafePointer<Double>, T: Int, bounds: [Int]
    let g: Double, lambda: Double, minimumSpike: Double, baseline: Double
    let pools: AR1Pools
    let storage: UnsafeMutablePointer<nfx_ar1_pools>
    /// Spikes nil: calcium and residual only.
    let calcium: UnsafeMutablePointer<Double>, spikes: UnsafeMutablePointer<Double>?
    let computesResidual: Bool
    /// Per chunk: its pools, its share of the residual.
    let poolCounts: UnsafeMutablePointer<Int>, partial: UnsafeMutablePointer<Double>
    var chunks: Int { bounds.count - 1 }

    init(frames: UnsafePointer<Double>, T: Int, bounds: [Int], g: Double, lambda: Double, minimumSpike: Double,
         baseline: Double, pools: AR1Pools, calcium: UnsafeMutablePointer<Double>,
         spikes: UnsafeMutablePointer<Double>?, computesResidual: Bool) {
        (self.frames, self.T, self.bounds, self.g, self.lambda) = (frames, T, bounds, g, lambda)
        self.computesResidual = computesResidual
        (self.minimumSpike, self.baseline, self.pools, self.calcium, self.spikes) = (minimumSpike, baseline, pools,
                                                                                     calcium, spikes)
        storage = .allocate(capacity: 1)
        storage.initialize(to: pools.storage)
        let chunks = bounds.count - 1
        poolCounts = .allocate(capacity: chunks)
        partial = .allocate(capacity: chunks)
        nfx_ar1_prepare(storage, g)
    }

    deinit {
        storage.deallocate()
        poolCounts.deallocate()
        partial.deallocate()
    }

    func solveChunk(_ k: Int) {
        nfx_oasis_ar1_chunk(frames, bounds[k], bounds[k + 1] - bounds[k], T, g, lambda, minimumSpike, baseline, storage,
                            poolCounts + k)
    }

    func continuePools(shiftChange: Double, count: Int) -> Int {
        nfx_oasis_ar1_continue(frames, T, g, shiftChange, lambda, baseline, storage, count)
    }

    /// The chunks' pools pushed in order onto the first chunk's; returns their number.
    func join() -> Int {
        var count = poolCounts[0]
        for k in 1..<chunks { count = nfx_oasis_ar1_join(storage, count, bounds[k], poolCounts[k]) }
        return count
    }

    func finish(_ k: Int, pools count: Int) {
        partial[k] = nfx_oasis_ar1_finish(frames, bounds[k], bounds[k + 1], storage, count, g, minimumSpike, baseline,
                                          calcium, spikes, computesResidual ? 1 : 0)
    }

    func poolStatistics(count: Int, into statistics: PoolStatistics) {
        nfx_ar1_pool_statistics(frames, storage, count, g, lambda, statistics.squares(baseline: baseline),
                                &statistics.latest)
    }

    /// The residual sum of squares, the chunks' shares added in order.
    var residual: Double { (0..<chunks).reduce(0) { $0 + partial[$1] } }
}

/// A noise search's statistics of its latest solve from the pools (`nfx_ar1_statistics`), and the sums of
/// y − reference and of its square over the trace (no NaN frames) that give Σ (y − b)² for any b. The reference is
/// the trace's mean, so that the sums are of the signal's size whatever its offset.
final class PoolStatistics {
    let reference: Double, frames: Int
    let linear: Double, quadratic: Double
    var latest = nfx_ar1_statistics()

    init(_ y: UnsafeBufferPointer<Double>) {
        let reference = y.isEmpty ? 0 : y.reduce(0, +) / Double(y.count)
        var linear = 0.0, quadratic = 0.0
        for value in y {
            let centred = value - reference
            linear += centred
            quadratic += centred * centred
        }
        (self.reference, frames, self.linear, self.quadratic) = (reference, y.count, linear, quadratic)
    }

    /// Σ (y − b)² = Σ (ỹ − d)² with ỹ = y − reference, d = b − reference.
    func squares(baseline: Double) -> Double {
        let offset = baseline - reference
        return quadratic - 2 * offset * linear + Double(frames) * offset * offset
    }

    /// The λ step that brings the residual to `target` if the pools do not change (see `OASIS.quadraticStep`), for
    /// the latest solve's pools with λ and b moved along λ(1 − g) + b; nil without a real root.
    func quadraticStep(lambda: Double, baseline: Double, rss: Double, target: Double) -> Double? {
        OASIS.stepReaching(target, rss: rss, slopeSquares: latest.slope_squares,
                           slopeResidual: lambda * latest.closed_form + latest.frame_sums
                               - baseline * latest.frame_weights)
    }
}
