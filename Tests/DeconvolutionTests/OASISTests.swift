import Foundation
import XCTest
import NFXCore
@testable import Deconvolution

final class OASISTests: XCTestCase {
    /// AR(1) calcium from spikes: c_t = g c_{t−1} + s_t.
    private func calcium(_ spikes: [Double], g: Double) -> [Double] {
        var c = spikes
        for t in 1..<c.count { c[t] += g * c[t - 1] }
        return c
    }

    private func randomTrace(_ T: Int, g: Double, sigma: Double, seed: UInt64) -> [Double] {
        var generator = SeededGenerator(seed: seed)
        let spikes = (0..<T).map { _ in generator.uniform() < 0.08 ? 0.5 + generator.uniform() : 0 }
        return zip(calcium(spikes, g: g), (0..<T).map { _ in sigma * generator.normal() }).map { $0 + $1 }
    }

    /// Karush–Kuhn–Tucker conditions of min ½‖Kx − y‖² + λ Σx, x ≥ 0, where x = (c₀, s₁, …, s_{T−1}) and
    /// K_{tτ} = g^{t−τ}: the gradient vanishes where x > 0 and is ≥ 0 where x = 0. They certify optimality of a
    /// convex problem, so this is a brute-force-free optimality check.
    private func assertOptimal(_ y: [Double], g: Double, lambda: Double, file: StaticString = #filePath,
                               line: UInt = #line) {
        let (c, s) = OASIS.ar1(y, g: g, lambda: lambda)
        let T = y.count
        var x = s
        x[0] = c[0]
        for t in 0..<T { XCTAssertGreaterThanOrEqual(x[t], -1e-12, "x[\(t)]", file: file, line: line) }
        // The reported calcium is K x.
        XCTAssertEqual(calcium(x, g: g).enumerated().map { abs($1 - c[$0]) }.max()!, 0, accuracy: 1e-10,
                       file: file, line: line)
        // gradient_τ = Σ_{t≥τ} g^{t−τ} (c_t − y_t) + λ, accumulated backwards.
        var gradient = [Double](repeating: 0, count: T)
        var running = 0.0
        for t in stride(from: T - 1, through: 0, by: -1) {
            running = running * g + (c[t] - y[t])
            gradient[t] = running + lambda
        }
        let scale = 1e-9 * (1 + y.map(abs).max()!)
        for t in 0..<T {
            if x[t] > 1e-12 {
                XCTAssertEqual(gradient[t], 0, accuracy: scale, "active \(t)", file: file, line: line)
            } else {
                XCTAssertGreaterThanOrEqual(gradient[t], -scale, "inactive \(t)", file: file, line: line)
            }
        }
    }

    /// The solve in chunks (pools found per chunk, then joined) against one sequential pass, on a trace of several
    /// chunks with NaN frames at and across the chunk boundaries, with and without λ; and the same result on one
    /// thread or two.
    func testChunkedSolveMatchesOneSequentialPass() {
        let chunk = 1000
        var y = randomTrace(5 * chunk + 123, g: 0.95, sigma: 0.3, seed: 12)
        for t in [chunk - 1, chunk, 2 * chunk, 2 * chunk + 1, 2 * chunk + 2] { y[t] = .nan }
        for t in (3 * chunk - 5)..<(3 * chunk + 40) { y[t] = .nan }
        func solve(lambda: Double, chunkFrames: Int, threads: Int) -> (c: [Double], s: [Double], rss: Double, pools: Int) {
            let pools = AR1Pools(capacity: y.count)
            var c = [Double](repeating: 0, count: y.count), s = c
            let rss = y.withUnsafeBufferPointer { yp in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        OASIS.ar1(yp, g: 0.95, lambda: lambda, minimumSpike: 0, pools: pools, calcium: cp, spikes: sp,
                                  threads: threads, chunkFrames: chunkFrames)
                    }
                }
            }
            return (c, s, rss, pools.count)
        }
        for lambda in [0.0, 0.4] {
            let sequential = solve(lambda: lambda, chunkFrames: y.count, threads: 1)
            let chunked = solve(lambda: lambda, chunkFrames: chunk, threads: 1)
            let twoThreads = solve(lambda: lambda, chunkFrames: chunk, threads: 2)
            XCTAssertEqual(chunked.pools, sequential.pools, "λ \(lambda)")
            for t in y.indices {
                XCTAssertEqual(chunked.c[t].isNaN, y[t].isNaN)
                guard !y[t].isNaN else { continue }
                XCTAssertEqual(chunked.c[t], sequential.c[t], accuracy: 1e-10, "c[\(t)] λ \(lambda)")
                XCTAssertEqual(chunked.s[t], sequential.s[t], accuracy: 1e-10, "s[\(t)] λ \(lambda)")
            }
            XCTAssertEqual(chunked.rss, sequential.rss, accuracy: 1e-9 * sequential.rss)
            XCTAssertEqual(twoThreads.c.map(\.bitPattern), chunked.c.map(\.bitPattern), "threads λ \(lambda)")
            XCTAssertEqual(twoThreads.rss, chunked.rss)
        }
    }

    /// A search step's solve (calcium and residual only) finished by `spikes(of:)` gives the full solve: the same
    /// residual, calcium and spikes, NaN exactly at NaN frames, in one chunk and in several.
    func testSolveWithoutSpikesFinishedLaterMatchesTheFullSolve() {
        var y = randomTrace(4321, g: 0.95, sigma: 0.3, seed: 31)
        for t in [0, 700, 701, 1999, 2000] { y[t] = .nan }
        for t in 3000..<3050 { y[t] = .nan }
        for chunkFrames in [y.count, 1000] {
            func solve(writesSpikes: Bool) -> (c: [Double], s: [Double], rss: Double) {
                let pools = AR1Pools(capacity: y.count)
                var c = [Double](repeating: 0, count: y.count), s = c
                let rss = y.withUnsafeBufferPointer { yp in
                    c.withUnsafeMutableBufferPointer { cp in
                        s.withUnsafeMutableBufferPointer { sp in
                            let rss = OASIS.ar1(yp, g: 0.95, lambda: 0.3, minimumSpike: 0, baseline: 0.1, pools: pools,
                                                calcium: cp, spikes: sp, threads: 2, chunkFrames: chunkFrames,
                                                writesSpikes: writesSpikes)
                            if !writesSpikes { OASIS.spikes(of: yp, g: 0.95, calcium: cp, spikes: sp) }
                            return rss
                        }
                    }
                }
                return (c, s, rss)
            }
            let full = solve(writesSpikes: true), later = solve(writesSpikes: false)
            XCTAssertEqual(later.rss, full.rss, "chunks of \(chunkFrames)")
            for t in y.indices {
                XCTAssertEqual(later.c[t].isNaN, y[t].isNaN)
                XCTAssertEqual(later.s[t].isNaN, y[t].isNaN)
                guard !y[t].isNaN else { continue }
                XCTAssertEqual(later.c[t].bitPattern, full.c[t].bitPattern, "c[\(t)]")
                XCTAssertEqual(later.s[t], full.s[t], accuracy: 1e-12, "s[\(t)], chunks of \(chunkFrames)")
            }
        }
    }

    func testPoolStatisticsEqualTheFrameByFrameSumsOfTheWrittenSolution() throws {
        // Without NaN frames a step of the noise searches writes no calcium: its residual, calcium total and λ step
        // come from the pools (nfx_ar1_pool_statistics). Here against the same quantities summed frame by frame
        // over the written solution of the same solve: with chunks, clipped pools (a high baseline), a trace far
        // from zero (Σ (y − b)² comes from sums of y − mean), and a (λ, b) pair moved along λ(1 − g) + b for the step.
        let base = randomTrace(7000, g: 0.95, sigma: 0.3, seed: 43)
        let g = 0.95
        let cases: [(offset: Double, lambda: Double, baseline: Double, moved: Double)] = [
            (0, 0, 0.05, 0), (0, 0.7, -0.1, 0), (0, 0.4, 0.2, 0.3), (0, 0.3, 1.5, 0), (1000, 0.4, 1000.1, 0.2)]
        for (offset, lambda, baseline, moved) in cases {
            let y = base.map { $0 + offset }
            let label = "offset \(offset), λ \(lambda), b \(baseline), moved \(moved)"
            let pools = AR1Pools(capacity: y.count), statistics = y.withUnsafeBufferPointer { PoolStatistics($0) }
            var c = [Double](repeating: 0, count: y.count), s = c
            var pooledValues: [Double] = [], rss = 0.0, step: Double?, frameStep: Double?
            y.withUnsafeBufferPointer { yp in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        OASIS.ar1(yp, g: g, lambda: lambda, minimumSpike: 0, baseline: baseline, pools: pools,
                                  calcium: cp, spikes: sp, threads: 2, chunkFrames: 2500, statistics: statistics)
                        pooledValues = (0..<pools.count).map { pools.value($0) }
                        rss = OASIS.ar1(yp, g: g, lambda: lambda, minimumSpike: 0, baseline: baseline, pools: pools,
                                        calcium: cp, spikes: sp, threads: 2, chunkFrames: 2500)
                        let (stepLambda, stepBaseline) = (lambda + moved, baseline - moved * (1 - g))
                        var scratch = [Double](repeating: 0, count: y.count)
                        step = statistics.quadraticStep(lambda: stepLambda, baseline: stepBaseline, rss: rss,
                                                        target: 1.3 * rss)
                        frameStep = OASIS.quadraticStep(yp, g: g, baseline: stepBaseline, pools: pools, calcium: cp,
                                                        rss: rss, target: 1.3 * rss, derivative: &scratch)
                    }
                }
            }
            XCTAssertEqual(statistics.latest.residual, rss, accuracy: 1e-9 * rss, label)
            let total = c.reduce(0, +)
            XCTAssertEqual(statistics.latest.calcium_total, total, accuracy: 1e-9 * abs(total), label)
            XCTAssertEqual(pooledValues, (0..<pools.count).map { pools.value($0) }, label)
            let expected = try XCTUnwrap(frameStep, label)
            XCTAssertEqual(try XCTUnwrap(step, label), expected, accuracy: 1e-9 * abs(expected), label)
            if baseline == 1.5 { XCTAssertTrue(pooledValues.contains { $0 < 0 }, "some pool is clipped") }
        }
    }

    /// A solve that continues from the previous solve's pools (the noise-constrained searches' steps) against a
    /// solve from scratch: the steps a search takes (λ up; b up or down with λ moving to keep λ(1 − g) + b, which
    /// changes only the last frame and can split the last pool), one that lowers λ (which must start afresh), on
    /// a trace of one chunk and one of several.
    func testContinuedSolveMatchesASolveFromScratch() {
        for (T, chunk) in [(3000, OASIS.chunkFrames), (5000, 700)] {
            let y = randomTrace(T, g: 0.94, sigma: 0.3, seed: UInt64(T))
            let g = 0.94
            let steps: [(lambda: Double, baseline: Double)] = [
                (0, 0.05), (0.3, 0.05), (0.3 + 0.2 / (1 - g), -0.15), (0.9 + 0.2 / (1 - g), -0.15),
                (0.9 + 0.1 / (1 - g), -0.05), (0.4, -0.05), (1.5, -0.05),
            ]
            let continued = AR1Pools(capacity: T)
            var c = [Double](repeating: 0, count: T), s = c, freshC = c, freshS = c
            var previous: (lambda: Double, baseline: Double)?
            for step in steps {
                let rss = y.withUnsafeBufferPointer { yp in
                    c.withUnsafeMutableBufferPointer { cp in
                        s.withUnsafeMutableBufferPointer { sp in
                            OASIS.ar1(yp, g: g, lambda: step.lambda, minimumSpike: 0, baseline: step.baseline,
                                      pools: continued, calcium: cp, spikes: sp, threads: 2, chunkFrames: chunk,
                                      continuing: previous)
                        }
                    }
                }
                previous = step
                let fresh = AR1Pools(capacity: T)
                let freshRSS = y.withUnsafeBufferPointer { yp in
                    freshC.withUnsafeMutableBufferPointer { cp in
                        freshS.withUnsafeMutableBufferPointer { sp in
                            OASIS.ar1(yp, g: g, lambda: step.lambda, minimumSpike: 0, baseline: step.baseline,
                                      pools: fresh, calcium: cp, spikes: sp, chunkFrames: chunk)
                        }
                    }
                }
                let label = "T \(T), λ \(step.lambda), b \(step.baseline)"
                XCTAssertEqual(continued.count, fresh.count, label)
                XCTAssertEqual(zip(c, freshC).map { abs($0 - $1) }.max()!, 0, accuracy: 1e-10, label)
                XCTAssertEqual(zip(s, freshS).map { abs($0 - $1) }.max()!, 0, accuracy: 1e-10, label)
                XCTAssertEqual(rss, freshRSS, accuracy: 1e-9 * freshRSS, label)
            }
        }
    }

    /// A trace longer than one chunk, through the public entry point: still optimal.
    func testLongTraceSolvedInChunksIsOptimal() {
        assertOptimal(randomTrace(OASIS.chunkFrames * 2 + 500, g: 0.9, sigma: 0.2, seed: 4), g: 0.9, lambda: 0.3)
    }

    /// The fit with the baseline: the residual meets the noise (to 1e-4) with the baseline at the mean residual
    /// (to σ/1000), with and without NaN frames, from a low baseline guess (the pipeline starts from the 15th
    /// percentile, below the truth).
    func testNoiseConstraintWithBaselineMeetsBothConditions() {
        for (seed, offset) in [(UInt64(21), 1.3), (22, -0.8), (23, 0.0)] {
            var y = randomTrace(3000, g: 0.93, sigma: 0.25, seed: seed).map { $0 + offset }
            if seed == 22 { for t in stride(from: 100, to: 3000, by: 97) { y[t] = .nan } }
            let sigma = 0.25, observed = y.filter { !$0.isNaN }.count
            let pools = AR1Pools(capacity: y.count)
            var c = [Double](repeating: 0, count: y.count), s = c
            let fit = y.withUnsafeBufferPointer { yp in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        OASIS.noiseConstrainedAR1WithBaseline(yp, g: 0.93, sigma: sigma, initialBaseline: offset - 0.4,
                                                              pools: pools, calcium: cp, spikes: sp, threads: 2)
                    }
                }
            }
            let residuals = y.indices.filter { !y[$0].isNaN }.map { y[$0] - fit.baseline - c[$0] }
            let rss = residuals.reduce(0) { $0 + $1 * $1 }
            XCTAssertEqual(rss / (sigma * sigma * Double(observed)), 1, accuracy: 1e-4, "seed \(seed)")
            XCTAssertLessThanOrEqual(abs(residuals.reduce(0, +) / Double(observed)), 1e-3 * sigma, "seed \(seed)")
            XCTAssertGreaterThan(fit.lambda, 0)
        }
    }

    func testSolutionSatisfiesTheOptimalityConditions() {
        for seed in UInt64(0)..<40 {
            let g = [0.1, 0.5, 0.9, 0.95, 0.999][Int(seed % 5)]
            let y = randomTrace(20 + Int(seed) * 4, g: g, sigma: 0.3, seed: seed)
            for lambda in [0.0, 0.1, 1.0] { assertOptimal(y, g: g, lambda: lambda) }
        }
    }

    /// A brute-force reference: accelerated projected gradient (FISTA) on the same QP in x = (c₀, s₁, …), run to
    /// convergence on short traces. OASIS must reach an objective no worse, and the two solutions must agree.
    func testMatchesABruteForceQPSolution() {
        for seed in UInt64(0)..<4 {
            let g = 0.8, lambda = 0.2, T = 30
            let y = randomTrace(T, g: g, sigma: 0.3, seed: 100 + seed)
            func objective(_ x: [Double]) -> Double {
                let c = calcium(x, g: g)
                return 0.5 * zip(c, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } + lambda * x.reduce(0, +)
            }
            func gradient(_ x: [Double]) -> [Double] {
                let c = calcium(x, g: g)
                var result = [Double](repeating: 0, count: T), running = 0.0
                for t in stride(from: T - 1, through: 0, by: -1) {
                    running = running * g + (c[t] - y[t])
                    result[t] = running + lambda
                }
                return result
            }
            let step = (1 - g) * (1 - g)  // 1 / ‖K‖² bound: ‖K‖ ≤ Σ g^k < 1/(1 − g)
            var x = [Double](repeating: 0, count: T), momentum = x, t = 1.0
            for _ in 0..<40_000 {
                let gradientAtMomentum = gradient(momentum)
                let next = (0..<T).map { max(0, momentum[$0] - step * gradientAtMomentum[$0]) }
                let tNext = (1 + (1 + 4 * t * t).squareRoot()) / 2
                momentum = (0..<T).map { next[$0] + (t - 1) / tNext * (next[$0] - x[$0]) }
                x = next
                t = tNext
            }
            let (c, s) = OASIS.ar1(y, g: g, lambda: lambda)
            var oasis = s
            oasis[0] = c[0]
            XCTAssertLessThanOrEqual(objective(oasis), objective(x) + 1e-10, "seed \(seed)")
            XCTAssertEqual(objective(oasis), objective(x), accuracy: 1e-8, "seed \(seed)")
            for k in 0..<T { XCTAssertEqual(oasis[k], x[k], accuracy: 1e-5, "seed \(seed) frame \(k)") }
        }
    }

    func testNoiseFreeTraceGivesBackItsSpikes() {
        var generator = SeededGenerator(seed: 3)
        let spikes = (0..<500).map { t in t > 0 && generator.uniform() < 0.05 ? 1 + generator.uniform() : 0 }
        let y = calcium(spikes, g: 0.95)
        let (c, s) = OASIS.ar1(y, g: 0.95)
        for t in 0..<y.count {
            XCTAssertEqual(c[t], y[t], accuracy: 1e-10)
            XCTAssertEqual(s[t], spikes[t], accuracy: 1e-10)
        }
    }

    func testShortTracesAndExtremeCoefficients() {
        XCTAssertEqual(OASIS.ar1([2.0], g: 0.9).calcium, [2.0])
        XCTAssertEqual(OASIS.ar1([-1.0], g: 0.9).calcium, [0.0], "calcium is never negative")
        let two = OASIS.ar1([1.0, 3.0], g: 0.5)
        XCTAssertEqual(two.calcium, [1.0, 3.0])
        XCTAssertEqual(two.spikes, [0.0, 2.5])
        for g in [0.1, 0.999] { assertOptimal(randomTrace(200, g: g, sigma: 0.2, seed: 11), g: g, lambda: 0.05) }
    }

    func testMinimumSpikeSizeIsEnforced() {
        let y = randomTrace(400, g: 0.9, sigma: 0.3, seed: 5)
        let (_, s) = OASIS.ar1(y, g: 0.9, minimumSpike: 0.5)
        for t in 1..<s.count { XCTAssertTrue(abs(s[t]) < 1e-9 || s[t] >= 0.5 - 1e-9, "s[\(t)] = \(s[t])") }
    }

    func testNaNFramesAreBridgedAndStayNaN() {
        var y = randomTrace(300, g: 0.9, sigma: 0.1, seed: 8)
        for t in 100..<120 { y[t] = .nan }
        let (c, s) = OASIS.ar1(y, g: 0.9, lambda: 0.1)
        for t in 0..<300 {
            XCTAssertEqual(c[t].isNaN, (100..<120).contains(t))
            XCTAssertEqual(s[t].isNaN, (100..<120).contains(t))
        }
        // Calcium decays through the gap: the first frame after it continues the pool before it, or jumps up.
        XCTAssertGreaterThanOrEqual(c[120] + 1e-12, c[99] * pow(0.9, 21))
    }

    func testNoiseConstraintIsMetWithinOneInTenThousand() {
        for seed in UInt64(0)..<10 {
            let y = randomTrace(1000, g: 0.95, sigma: 0.3, seed: seed)
            var c = [Double](repeating: 0, count: y.count), s = c
            let lambda = y.withUnsafeBufferPointer { yp in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        OASIS.noiseConstrainedAR1(yp, g: 0.95, sigma: 0.3, calcium: cp, spikes: sp)
                    }
                }
            }
            let rss = zip(y, c).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            XCTAssertGreaterThan(lambda, 0)
            XCTAssertEqual(rss / (0.09 * 1000), 1, accuracy: 1e-4, "seed \(seed)")
            // The search continues from earlier pools, whose sums are updated rather than summed again: the same
            // solution to rounding.
            let direct = OASIS.ar1(y, g: 0.95, lambda: lambda)
            XCTAssertEqual(zip(direct.calcium, c).map { abs($0 - $1) }.max()!, 0, accuracy: 1e-12 * c.max()!,
                           "the returned λ reproduces the solution")
        }
    }
}
