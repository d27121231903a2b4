import Dispatch
import Foundation
import NFXCore

/// Options of the exact enumeration.
public struct AnalyticOptions: Sendable {
    /// Refuse arrangements whose region bound exceeds this (the walk's time grows with it).
    public var maxRegions: Double = 1e10
    /// Seeds the generic sweep directions and the symbolic perturbation; results do not depend on it.
    public var seed: UInt64 = 0
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Called with (lines walked, lines in all) at the top level, from worker threads.
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(maxRegions: Double = 1e10, seed: UInt64 = 0,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                progress: (@Sendable (Int, Int) -> Void)? = nil) {
        self.maxRegions = maxRegions
        self.seed = seed
        self.threads = threads
        self.progress = progress
    }
}

/// Every fixed point of a piecewise-linear low-rank RNN, by walking the regions of its switching arrangement.
///
/// Each region is visited once through its lowest vertex along a generic direction d (regions unbounded below
/// are those that cross a slice below every vertex, handled by recursing on that slice, one dimension lower): this
/// is the bijection behind Zaslavsky's count Σ_{k≤R} C(H, k) (Pals et al. 2024, Proposition 1). Vertices are
/// met by walking lines — intersections of R − 1 hyperplanes — so that the region map changes by one rank-1 term
/// per crossing, and no region's N-bit pattern is ever stored. Hyperplane offsets are perturbed by ~1e-7 (a
/// symbolic-perturbation stand-in) so that parallel and concurrent hyperplanes (clipped ReLU, b = 0) form a
/// generic arrangement; every region of the true arrangement survives as a region of the perturbed one, and
/// each candidate is solved with the exact parameters and verified against the exact model, so degenerate fixed
/// points (on boundaries) are found and de-duplicated.
public func analyticFixedPoints(_ model: LowRankRNN, options: AnalyticOptions = AnalyticOptions()) throws
    -> FixedPointResult {
    guard model.activation.isPiecewiseLinear else { throw FixedPointError.needsPiecewiseLinear(method: "analytic") }
    let arrangement = SwitchingArrangement(model)
    let bound = regionBound(hyperplanes: arrangement.count, rank: arrangement.rank)
    guard bound <= options.maxRegions else {
        throw FixedPointError.tooManyRegions(bound: bound, limit: options.maxRegions)
    }
    var generator = SeededGenerator(seed: options.seed)
    let scale = max(arrangement.offsets.map(abs).max() ?? 0, arrangement.normals.map(abs).max() ?? 0, 1e-300)
    let perturbed = arrangement.offsets.map { $0 + 1e-7 * scale * generator.uniform(in: -1..<1) }
    var checkOrder = Array(0..<arrangement.count)
    generator.shuffle(&checkOrder)

    let walk = ArrangementWalk(arrangement: arrangement, perturbedOffsets: perturbed, checkOrder: checkOrder)
    var flat = Flat.whole(dimension: arrangement.rank)
    var regions = 0, singular = 0
    var candidates: [[Double]] = []
    while true {
        let direction = randomUnitVector(flat.dimension, &generator)
        let isTop = flat.dimension == arrangement.rank
        let outcome = walk.walk(flat, direction: direction, threads: max(1, options.threads),
                                progress: isTop ? options.progress : nil)
        regions += outcome.regions
        singular += outcome.singularRegions
        candidates += outcome.candidates
        guard flat.dimension > 0 else { break }
        let sliceHeight: Double
        if let lowest = outcome.lowestHeight, let highest = outcome.highestHeight {
            sliceHeight = lowest - 1 - 0.1 * (highest - lowest)
        } else {
            sliceHeight = 0
        }
        flat = flat.slice(normalTo: direction, at: sliceHeight)
    }
    return FixedPointResult(method: .analytic, points: finalize(candidates, model: model), regionsSearched: regions,
                            regionBound: bound, singularRegions: singular)
}

func randomUnitVector(_ dimension: Int, _ generator: inout SeededGenerator) -> [Double] {
    guard dimension > 0 else { return [] }
    while true {
        let v = (0..<dimension).map { _ in generator.normal() }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 1e-3 { return v.map { $0 / norm } }
    }
}

/// An affine subspace z = point + basis·y of latent space, y ∈ R^dimension (basis: rank × dimension, orthonormal
/// columns, row-major).
struct Flat {
    let point: [Double]
    let basis: [Double]
    let dimension: Int

    static func whole(dimension: Int) -> Flat {
        var basis = [Double](repeating: 0, count: dimension * dimension)
        for i in 0..<dimension { basis[i * dimension + i] = 1 }
        return Flat(point: Array(repeating: 0, count: dimension), basis: basis, dimension: dimension)
    }

    var rank: Int { point.count }

    /// The flat {y : d·y = height}, one dimension lower, parametrised by an orthonormal basis of d⊥.
    func slice(normalTo d: [Double], at height: Double) -> Flat {
        let k = dimension, R = rank
        var complement: [[Double]] = []
        // Gram–Schmidt of the unit vectors against d, those least aligned with d first (best conditioned).
        let axes = (0..<k).sorted { abs(d[$0]) < abs(d[$1]) }
        for axis in axes where complement.count < k - 1 {
            var e = [Double](repeating: 0, count: k)
            e[axis] = 1
            var v = e
            for q in [d] + complement {
                let projection = zip(v, q).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<k { v[i] -= projection * q[i] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-8 { complement.append(v.map { $0 / norm }) }
        }
        var newPoint = point
        for r in 0..<R { for a in 0..<k { newPoint[r] += basis[r * k + a] * height * d[a] } }
        var newBasis = [Double](repeating: 0, count: R * (k - 1))
        for r in 0..<R {
            for b in 0..<(k - 1) {
                var sum = 0.0
                for a in 0..<k { sum += basis[r * k + a] * complement[b][a] }
                newBasis[r * (k - 1) + b] = sum
            }
        }
        return Flat(point: newPoint, basis: newBasis, dimension: k - 1)
    }
}

/// Walks every line of one flat (see `analyticFixedPoints`) and solves the region above every vertex.
struct ArrangementWalk: Sendable {
    let arrangement: SwitchingArrangement
    let perturbedOffsets: [Double]
    let checkOrder: [Int]

    struct Outcome {
        var regions = 0
        var singularRegions = 0
        var candidates: [[Double]] = []
        var lowestHeight: Double?
        var highestHeight: Double?

        mutating func merge(_ other: Outcome) {
            regions += other.regions
            singularRegions += other.singularRegions
            candidates += other.candidates
            if let h = other.lowestHeight { lowestHeight = min(lowestHeight ?? h, h) }
            if let h = other.highestHeight { highestHeight = max(highestHeight ?? h, h) }
        }
    }

    func walk(_ flat: Flat, direction: [Double], threads: Int,
              progress: (@Sendable (Int, Int) -> Void)?) -> Outcome {
        let H = arrangement.count, R = arrangement.rank, k = flat.dimension
        // Hyperplanes restricted to the flat: ã_h = basisᵀ m_h, β̂_h = m_h·point + β̃_h.
        var restrictedNormals = [Double](repeating: 0, count: H * max(k, 1))
        var restrictedOffsets = [Double](repeating: 0, count: H)
        for h in 0..<H {
            var offset = perturbedOffsets[h]
            for r in 0..<R { offset += arrangement.normals[h * R + r] * flat.point[r] }
            restrictedOffsets[h] = offset
            for a in 0..<k {
                var sum = 0.0
                for r in 0..<R { sum += flat.basis[r * k + a] * arrangement.normals[h * R + r] }
                restrictedNormals[h * k + a] = sum
            }
        }
        let context = LineContext(walk: self, k: k, normals: restrictedNormals, offsets: restrictedOffsets,
                                  direction: direction)
        if k == 0 { return context.pointRegion() }
        if k == 1 {
            var workspace = LineWorkspace(hyperplanes: H, rank: R, dimension: k)
            var outcome = Outcome()
            context.walkLine(subset: [], workspace: &workspace, into: &outcome)
            return outcome
        }
        // Lines are (k − 1)-subsets; a task is every subset starting with one index.
        let tasks = H
        let state = SharedProgress(total: tasks)
        let workers = min(threads, tasks)
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var workspace = LineWorkspace(hyperplanes: H, rank: R, dimension: k)
            var outcome = Outcome()
            var subset = [Int](repeating: 0, count: k - 1)
            while let first = state.next() {
                subset[0] = first
                context.enumerateSubsets(&subset, position: 1, workspace: &workspace, into: &outcome)
                if let progress { progress(state.finished(), tasks) }
            }
            results.merge(outcome)
        }
        return results.outcome
    }
}

/// The shared, read-only data of one flat's walk.
struct LineContext {
    let walk: ArrangementWalk
    let k: Int
    let normals: [Double]
    let offsets: [Double]
    let direction: [Double]

    var arrangement: SwitchingArrangement { walk.arrangement }

    func enumerateSubsets(_ subset: inout [Int], position: Int, workspace: inout LineWorkspace,
                          into outcome: inout ArrangementWalk.Outcome) {
        if position == subset.count {
            walkLine(subset: subset, workspace: &workspace, into: &outcome)
            return
        }
        let H = arrangement.count
        var next = subset[position - 1] + 1
        while next <= H - (subset.count - position) {
            subset[position] = next
            enumerateSubsets(&subset, position: position + 1, workspace: &workspace, into: &outcome)
            next += 1
        }
    }

    /// The single region of a 0-dimensional flat (a point below everything).
    func pointRegion() -> ArrangementWalk.Outcome {
        var outcome = ArrangementWalk.Outcome()
        var workspace = LineWorkspace(hyperplanes: arrangement.count, rank: arrangement.rank, dimension: 0)
        for h in 0..<arrangement.count { workspace.positive[h] = offsets[h] > 0 }
        workspace.resetMap()
        for h in 0..<arrangement.count where workspace.positive[h] { workspace.add(h, arrangement) }
        outcome.regions = 1
        workspace.solveRegion(arrangement: arrangement, subset: [], lambda: [], crossing: -1,
                              checkOrder: walk.checkOrder, into: &outcome)
        return outcome
    }

    /// Walks the line where the hyperplanes of `subset` meet inside the flat, emitting the region above every
    /// vertex formed with a later hyperplane (so each vertex is handled on exactly one line).
    func walkLine(subset: [Int], workspace w: inout LineWorkspace, into outcome: inout ArrangementWalk.Outcome) {
        let H = arrangement.count
        guard let line = w.line(subset: subset, normals: normals, offsets: offsets, direction: direction, k: k)
        else { return }
        let lastIndex = subset.last ?? -1
        for (position, h) in subset.enumerated() { w.subsetPosition[h] = position }
        defer { for h in subset { w.subsetPosition[h] = -1 } }

        w.resetMap()
        w.crossingCount = 0
        for h in 0..<H where w.subsetPosition[h] < 0 {
            var value = offsets[h], slope = 0.0, size = 0.0
            for a in 0..<k {
                value += normals[h * k + a] * line.point[a]
                slope += normals[h * k + a] * line.direction[a]
                size += abs(normals[h * k + a])
            }
            if abs(slope) <= 1e-13 * size {
                w.positive[h] = value > 0
            } else {
                w.crossings[w.crossingCount] = (-value / slope, h)
                w.crossingCount += 1
                w.positive[h] = slope < 0
            }
            if w.positive[h] { w.add(h, arrangement) }
        }
        w.sortCrossings()
        let heightAtOrigin = zip(direction, line.point).reduce(0) { $0 + $1.0 * $1.1 }
        let heightSlope = zip(direction, line.direction).reduce(0) { $0 + $1.0 * $1.1 }
        var lambda = [Double](repeating: 0, count: k)
        for index in 0..<w.crossingCount {
            let (t, h) = w.crossings[index]
            if w.positive[h] { w.remove(h, arrangement) }
            if h > lastIndex {
                outcome.regions += 1
                let height = heightAtOrigin + t * heightSlope
                outcome.lowestHeight = min(outcome.lowestHeight ?? height, height)
                outcome.highestHeight = max(outcome.highestHeight ?? height, height)
                // The region whose lowest point is this vertex lies, for each hyperplane through it, on the side
                // given by the sign of d's coefficient on that hyperplane's normal (LP duality at the vertex).
                if w.coefficients(of: direction, subset: subset, crossing: h, normals: normals, k: k, into: &lambda) {
                    w.solveRegion(arrangement: arrangement, subset: subset, lambda: lambda, crossing: h,
                                  checkOrder: walk.checkOrder, into: &outcome)
                }
            }
            w.positive[h].toggle()
            if w.positive[h] { w.add(h, arrangement) }
        }
    }
}

/// Per-thread buffers, reused for every line so the walk allocates nothing per region.
struct LineWorkspace {
    var positive: [Bool]
    var subsetPosition: [Int]
    var crossings: [(Double, Int)]
    var crossingCount = 0
    var K: [Double]
    var k: [Double]
    var regionK: [Double]
    var regionk: [Double]
    var scratch: [Double]
    var z: [Double]
    let rank: Int

    init(hyperplanes: Int, rank: Int, dimension: Int) {
        positive = Array(repeating: false, count: hyperplanes)
        subsetPosition = Array(repeating: -1, count: hyperplanes)
        crossings = Array(repeating: (0, 0), count: hyperplanes)
        K = Array(repeating: 0, count: rank * rank)
        k = Array(repeating: 0, count: rank)
        regionK = K
        regionk = k
        scratch = Array(repeating: 0, count: max(rank, dimension) * max(rank, dimension))
        z = Array(repeating: 0, count: max(rank, dimension))
        self.rank = rank
    }

    mutating func resetMap() {
        for i in K.indices { K[i] = 0 }
        for i in k.indices { k[i] = 0 }
    }

    mutating func add(_ h: Int, _ arrangement: SwitchingArrangement) {
        K.withUnsafeMutableBufferPointer { Kp in
            k.withUnsafeMutableBufferPointer { kp in arrangement.accumulate(h, sign: 1, K: Kp.baseAddress!, k: kp.baseAddress!) }
        }
    }

    mutating func remove(_ h: Int, _ arrangement: SwitchingArrangement) {
        K.withUnsafeMutableBufferPointer { Kp in
            k.withUnsafeMutableBufferPointer { kp in arrangement.accumulate(h, sign: -1, K: Kp.baseAddress!, k: kp.baseAddress!) }
        }
    }

    mutating func sortCrossings() {
        crossings[0..<crossingCount].sort { $0.0 < $1.0 }
    }

    /// The line {y : ã_h·y + β̂_h = 0 for h in subset} as point + t·direction, the direction being d's part
    /// orthogonal to the subset's normals; nil when the normals are dependent (no line).
    func line(subset: [Int], normals: [Double], offsets: [Double], direction: [Double], k: Int)
        -> (point: [Double], direction: [Double])? {
        let m = subset.count
        var q = [[Double]]()
        var lower = [Double](repeating: 0, count: m * m)
        for (a, h) in subset.enumerated() {
            var v = (0..<k).map { normals[h * k + $0] }
            let size = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for b in 0..<a {
                let projection = zip(q[b], v).reduce(0) { $0 + $1.0 * $1.1 }
                lower[a * m + b] = projection
                for i in 0..<k { v[i] -= projection * q[b][i] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 1e-10 * size, norm > 0 else { return nil }
            lower[a * m + a] = norm
            q.append(v.map { $0 / norm })
        }
        var alpha = [Double](repeating: 0, count: m)
        for a in 0..<m {
            var sum = -offsets[subset[a]]
            for b in 0..<a { sum -= lower[a * m + b] * alpha[b] }
            alpha[a] = sum / lower[a * m + a]
        }
        var point = [Double](repeating: 0, count: k)
        for a in 0..<m { for i in 0..<k { point[i] += alpha[a] * q[a][i] } }
        var u = direction
        for a in 0..<m {
            let projection = zip(q[a], u).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<k { u[i] -= projection * q[a][i] }
        }
        let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 1e-10 else { return nil }
        return (point, u.map { $0 / norm })
    }

    /// λ with Σ λ_a ã_{S_a} = d for S = subset + [crossing]; false if the normals are dependent.
    mutating func coefficients(of d: [Double], subset: [Int], crossing: Int, normals: [Double], k: Int,
                               into lambda: inout [Double]) -> Bool {
        for a in 0..<k {
            let h = a < subset.count ? subset[a] : crossing
            for r in 0..<k { scratch[r * k + a] = normals[h * k + r] }
            lambda[a] = d[a]
        }
        return scratch.withUnsafeMutableBufferPointer { s in
            lambda.withUnsafeMutableBufferPointer { l in SmallLinearSystem.solve(s.baseAddress!, l.baseAddress!, k) }
        }
    }

    /// Builds the region's map (walk state, plus the hyperplanes through the vertex on the sides λ picks),
    /// solves its fixed point and keeps it if it lies in the region under the exact model.
    mutating func solveRegion(arrangement: SwitchingArrangement, subset: [Int], lambda: [Double], crossing: Int,
                              checkOrder: [Int], into outcome: inout ArrangementWalk.Outcome) {
        let R = rank
        for i in 0..<R * R { regionK[i] = K[i] }
        for r in 0..<R { regionk[r] = k[r] }
        let through = subset + (crossing >= 0 ? [crossing] : [])
        for (a, h) in through.enumerated() where lambda[a] > 0 {
            regionK.withUnsafeMutableBufferPointer { Kp in
                regionk.withUnsafeMutableBufferPointer { kp in
                    arrangement.accumulate(h, sign: 1, K: Kp.baseAddress!, k: kp.baseAddress!)
                }
            }
        }
        let solved = regionK.withUnsafeBufferPointer { Kp in
            regionk.withUnsafeBufferPointer { kp in
                scratch.withUnsafeMutableBufferPointer { s in
                    z.withUnsafeMutableBufferPointer { zp in
                        arrangement.solveFixedPoint(K: Kp.baseAddress!, k: kp.baseAddress!, scratch: s.baseAddress!,
                                                    z: zp.baseAddress!)
                    }
                }
            }
        }
        guard solved else {
            outcome.singularRegions += 1
            return
        }
        let inside: Bool = z.withUnsafeBufferPointer { zp in
            let point = zp.baseAddress!
            for g in checkOrder {
                let required: Bool
                if g == crossing {
                    required = lambda[through.count - 1] > 0
                } else if subsetPosition[g] >= 0 {
                    required = lambda[subsetPosition[g]] > 0
                } else {
                    required = positive[g]
                }
                let value = arrangement.value(g, at: point)
                let tolerance = arrangement.tolerance(g, at: point)
                if required ? value < -tolerance : value > tolerance { return false }
            }
            return true
        }
        if inside { outcome.candidates.append(Array(z[0..<R])) }
    }
}

/// Hands out top-level tasks to worker threads and counts finished ones.
final class SharedProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var nextTask = 0
    private var done = 0
    let total: Int

    init(total: Int) { self.total = total }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard nextTask < total else { return nil }
        nextTask += 1
        return nextTask - 1
    }

    func finished() -> Int {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        return done
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var outcome = ArrangementWalk.Outcome()

    func merge(_ other: ArrangementWalk.Outcome) {
        lock.lock()
        outcome.merge(other)
        lock.unlock()
    }
}
