import Dispatch
import Foundation
import LinearAlgebra
import NFXCore

public struct SearchOptions: Sendable {
    public var restarts: Int = 1000
    public var seed: UInt64 = 0
    /// Spread of the random starting points; nil picks 2 × the farthest switching hyperplane from the origin.
    public var scale: Double?
    public var maxIterations: Int = 100
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    public init(restarts: Int = 1000, seed: UInt64 = 0, scale: Double? = nil, maxIterations: Int = 100,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.restarts = restarts
        self.seed = seed
        self.scale = scale
        self.maxIterations = maxIterations
        self.threads = threads
    }
}

/// Random-restart Newton iteration on G(z) = F(z) − z, de-duplicated: the usual way (FixedPointFinder,
/// Golub & Sussillo 2018), and the only one for smooth activations. For a piecewise-linear φ one Newton step
/// jumps to the fixed point of the current region's affine map, as SCYFI's pattern iteration does. It finds some
/// fixed points and cannot know whether it found all; `regionsSearched` counts the linear solves.
public func searchFixedPoints(_ model: LowRankRNN, options: SearchOptions = SearchOptions()) -> FixedPointResult {
    let R = model.rank
    let scale = options.scale ?? defaultSearchScale(model)
    let restarts = max(0, options.restarts)
    let workers = max(1, min(options.threads, restarts))
    let collected = SearchResults()
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        var found: [[Double]] = []
        var localSolves = 0
        for restart in stride(from: worker, to: restarts, by: workers) {
            // One stream per restart: the same starts whatever the thread count.
            var generator = SeededGenerator(seed: options.seed).split(stream: UInt64(restart))
            var z = (0..<R).map { _ in scale * generator.normal() }
            var residual = model.fixedPointResidual(z)
            for _ in 0..<options.maxIterations where residual > 1e-12 {
                let next = model.step(z)
                var J = model.jacobian(z)
                for r in 0..<R { J[r, r] -= 1 }
                let g = Matrix(rows: R, columns: 1, elements: zip(next, z).map { $0 - $1 })
                localSolves += 1
                guard let delta = try? solve(J, g) else { break }
                // Damped: halve the step until ‖G‖ decreases (needed for tanh; PWL steps are accepted at once).
                var stepLength = 1.0, accepted = false
                for _ in 0..<30 {
                    let trial = (0..<R).map { z[$0] - stepLength * delta.elements[$0] }
                    let trialResidual = model.fixedPointResidual(trial)
                    if trialResidual < residual || trialResidual <= 1e-12 {
                        z = trial
                        residual = trialResidual
                        accepted = true
                        break
                    }
                    stepLength /= 2
                }
                if !accepted { break }
            }
            if residual <= 1e-10 { found.append(z) }
        }
        collected.add(found, solves: localSolves)
    }
    let candidates = collected.candidates, solves = collected.solves
    let bound = model.activation.isPiecewiseLinear ? regionBound(hyperplanes: hyperplaneCount(model), rank: R) : .nan
    // Newton lands on points to ~1e-12; polish each with its region's exact map before de-duplicating.
    let polished = candidates.map { model.activation.isPiecewiseLinear ? polish($0, model) : $0 }
    return FixedPointResult(method: .search, points: finalize(polished, model: model, tolerance: 1e-6),
                            regionsSearched: solves, regionBound: bound, singularRegions: 0)
}

/// One exact solve of the affine map of z's region, kept if it does not move z out of being a fixed point.
private func polish(_ z: [Double], _ model: LowRankRNN) -> [Double] {
    var J = model.jacobian(z)
    for r in 0..<model.rank { J[r, r] -= 1 }
    let next = model.step(z)
    let g = Matrix(rows: model.rank, columns: 1, elements: zip(next, z).map { $0 - $1 })
    guard let delta = try? solve(J, g) else { return z }
    let polished = (0..<model.rank).map { z[$0] - delta.elements[$0] }
    return model.fixedPointResidual(polished) <= model.fixedPointResidual(z) ? polished : z
}

func defaultSearchScale(_ model: LowRankRNN) -> Double {
    var farthest = 0.0
    for j in 0..<model.units {
        var norm = 0.0
        for r in 0..<model.rank { norm += model.M[j, r] * model.M[j, r] }
        norm = norm.squareRoot()
        guard norm > 0 else { continue }
        farthest = max(farthest, abs(model.b[j]) / norm)
        if model.activation == .clippedRelu { farthest = max(farthest, abs(model.b[j] - model.threshold(j)) / norm) }
    }
    return max(1, 2 * farthest)
}

private final class SearchResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var candidates: [[Double]] = []
    private(set) var solves = 0

    func add(_ found: [[Double]], solves count: Int) {
        lock.lock()
        candidates += found
        solves += count
        lock.unlock()
    }
}
