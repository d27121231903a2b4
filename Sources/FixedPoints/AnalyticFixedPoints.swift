import CKernels
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
    /// Walks the rank-2 and rank-3 lines in C (`nfx_walk_line`); off only to test it against the Swift walk.
    var compiledLines = true

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

    let walk = ArrangementWalk(arrangement: arrangement, perturbedOffsets: perturbed, checkOrder: checkOrder,
                               compiledLines: options.compiledLines)
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
    /// Whether the top-level lines of rank 2 and 3 go to `CompiledLineWalk` (tests compare it with the Swift walk).
    var compiledLines = true

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
        return walkAll(context, threads: threads, progress: progress)
    }

    private func walkAll(_ context: LineContext, threads: Int, progress: (@Sendable (Int, Int) -> Void)?) -> Outcome {
        let H = arrangement.count, k = context.k
        if k == 1 {
            var outcome = Outcome()
            context.walkLine(subset: [], workspace: LineWorkspace(walk: self, dimension: k), into: &outcome)
            return outcome
        }
        // Lines are (k − 1)-subsets; a task is every subset starting with one index.
        let tasks = H
        let state = SharedProgress(total: tasks)
        let workers = min(threads, tasks)
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let workspace = LineWorkspace(walk: self, dimension: k)
            if CompiledLineWalk.handles(rank: arrangement.rank, dimension: k), compiledLines {
                workspace.compiled = CompiledLineWalk(context, workspace: workspace)
            }
            let withinHalves = workspace.compiled?.pairsWithinHalves ?? false
            var outcome = Outcome()
            var subset = [Int](repeating: 0, count: k - 1)
            while let first = state.next() {
                subset[0] = first
                context.enumerateSubsets(&subset, position: 1, withinHalves: withinHalves, workspace: workspace,
                                         into: &outcome)
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

    /// Walks every line whose subset starts with `subset[0..<position]`. `withinHalves` (pairs, see
    /// `CompiledLineWalk.pairsWithinHalves`) takes only the pairs whose hyperplanes have indices of equal parity.
    func enumerateSubsets(_ subset: inout [Int], position: Int, withinHalves: Bool, workspace: LineWorkspace,
                          into outcome: inout ArrangementWalk.Outcome) {
        if position == subset.count {
            walkLine(subset: subset, workspace: workspace, into: &outcome)
            return
        }
        let H = arrangement.count, step = withinHalves ? 2 : 1
        var next = subset[position - 1] + step
        while next <= H - (subset.count - position) {
            subset[position] = next
            enumerateSubsets(&subset, position: position + 1, withinHalves: withinHalves, workspace: workspace,
                             into: &outcome)
            next += step
        }
    }

    /// The single region of a 0-dimensional flat (a point below everything).
    func pointRegion() -> ArrangementWalk.Outcome {
        var outcome = ArrangementWalk.Outcome()
        let w = LineWorkspace(walk: walk, dimension: 0)
        w.resetMap()
        for h in 0..<arrangement.count {
            w.positive[h] = offsets[h] > 0
            if w.positive[h] { w.toggleMap(h, sign: 1) }
        }
        outcome.regions = 1
        w.solveRegion(subsetCount: 0, crossing: -1, into: &outcome)
        return outcome
    }

    /// Walks the line where the hyperplanes of `subset` meet inside the flat, emitting the region above every
    /// vertex formed with a later hyperplane (so each vertex is handled on exactly one line).
    @inline(__always)
    func walkLine(subset: [Int], workspace w: LineWorkspace, into outcome: inout ArrangementWalk.Outcome) {
        let H = arrangement.count, k = w.dimension
        guard w.line(subset: subset, normals: normals, offsets: offsets, direction: direction) else { return }
        let lastIndex = subset.last ?? -1
        for (position, h) in subset.enumerated() { w.subsetPosition[h] = Int32(position) }
        defer { for h in subset { w.subsetPosition[h] = -1 } }

        let along = w.alongLine[0], m = subset.count
        for (a, h) in subset.enumerated() { w.subsetItems[a] = Int32(h) }
        w.prepareSubsetTerms(count: m)
        if let compiled = w.compiled {
            compiled.walkLine(along: along, firstHyperplane: subset[0], into: &outcome)
            return
        }
        w.resetMap()
        var crossings = 0
        let positive = w.positive, subsetPosition = w.subsetPosition, position = w.position
        let items = w.items, keys = w.keys, linePoint = w.linePoint, lineDirection = w.lineDirection
        let slopes = w.slopes, dual = w.dual, dualDirection = w.dualDirection, lambda = w.lambda
        normals.withUnsafeBufferPointer { normalsBuffer in
            offsets.withUnsafeBufferPointer { offsetsBuffer in
                let n = normalsBuffer.baseAddress!, o = offsetsBuffer.baseAddress!
                for h in 0..<H where subsetPosition[h] < 0 {
                    var value = o[h], slope = 0.0, size = 0.0
                    for a in 0..<k {
                        value += n[h * k + a] * linePoint[a]
                        slope += n[h * k + a] * lineDirection[a]
                        size += abs(n[h * k + a])
                    }
                    if abs(slope) <= SwitchingArrangement.parallelTolerance * size {
                        positive[h] = value > 0
                    } else {
                        let t = -value / slope
                        position[h] = t
                        slopes[h] = slope
                        keys[crossings] = nfx_crossing_key(t)
                        items[crossings] = Int32(h)
                        crossings += 1
                        positive[h] = slope < 0
                    }
                    if positive[h] { w.toggleMap(h, sign: 1) }
                }
            }
        }
        nfx_sort_crossings(items, keys, crossings, position, w.spareItems, w.spareKeys, w.sortedPosition)
        var heightAtOrigin = 0.0, heightSlope = 0.0
        for a in 0..<k {
            heightAtOrigin += direction[a] * linePoint[a]
            heightSlope += direction[a] * lineDirection[a]
        }
        var lowest = Double.infinity, highest = -Double.infinity
        for index in 0..<crossings {
            let h = Int(items[index])
            if positive[h] { w.toggleMap(h, sign: -1) }
            if h > lastIndex {
                outcome.regions += 1
                let height = heightAtOrigin + position[h] * heightSlope
                lowest = min(lowest, height)
                highest = max(highest, height)
                // The region whose lowest point is this vertex lies, for each hyperplane through it, on the side
                // given by the sign of d's coefficient λ on that hyperplane's normal (LP duality at the vertex).
                // Writing d = (d·u) u + its part in the span of the line's normals: λ_h = (d·u)/(ã_h·u), and
                // λ_a = w_a·d − λ_h w_a·ã_h with w the dual basis of the line's normals.
                let lambdaH = along / slopes[h]
                normals.withUnsafeBufferPointer { n in
                    let row = n.baseAddress! + h * k
                    for a in 0..<m {
                        var dot = 0.0
                        for i in 0..<k { dot += dual[a * k + i] * row[i] }
                        lambda[a] = dualDirection[a] - lambdaH * dot
                    }
                }
                lambda[m] = lambdaH
                w.solveRegion(subsetCount: m, crossing: h, into: &outcome)
            }
            positive[h].toggle()
            if positive[h] { w.toggleMap(h, sign: 1) }
        }
        if lowest <= highest {
            outcome.lowestHeight = min(outcome.lowestHeight ?? lowest, lowest)
            outcome.highestHeight = max(outcome.highestHeight ?? highest, highest)
        }
    }
}

/// `count` (at least one) elements set to `value`: the walk's per-thread buffers, allocated once per flat.
func filledBuffer<T>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
    let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
    pointer.initialize(repeating: value, count: max(count, 1))
    return pointer
}

/// Per-thread buffers, allocated once and reused for every line, so that the walk allocates nothing per region.
final class LineWorkspace {
    let arrangement: SwitchingArrangement
    /// The order in which a candidate is checked against the hyperplanes; a hyperplane that rejects a candidate
    /// moves to the front, since the same few reject most candidates (the order does not change the outcome).
    let checkOrder: UnsafeMutablePointer<Int32>
    let rank: Int
    let dimension: Int
    let hyperplanes: Int
    let positive: UnsafeMutablePointer<Bool>
    let subsetPosition: UnsafeMutablePointer<Int32>
    /// Crossing position along the current line, by hyperplane.
    let position: UnsafeMutablePointer<Double>
    /// The crossing positions in the walk's order (the sort's by-product).
    let sortedPosition: UnsafeMutablePointer<Double>
    let items, spareItems: UnsafeMutablePointer<Int32>
    let keys, spareKeys: UnsafeMutablePointer<UInt32>
    /// Per line: slopes ã_h·u by hyperplane, the dual basis of the line's normals (w_a·ã_b = δ_ab) and w_a·d,
    /// d·u, and the line's hyperplanes.
    let slopes, dual, dualDirection, alongLine: UnsafeMutablePointer<Double>
    let subsetItems: UnsafeMutablePointer<Int32>
    /// For each subset of the line's hyperplanes (a bit mask), the sum of their terms: R × R then R.
    let subsetTerms: UnsafeMutablePointer<Double>
    /// Raw copies of the arrangement's terms, so the hot loops touch no reference-counted arrays.
    let normals, offsets, identityMinusA, constant: UnsafeMutablePointer<Double>
    /// `SwitchingArrangement.terms`: one record per hyperplane.
    let terms: UnsafeMutablePointer<Double>
    let K, k, regionK, regionk, scratch, z, lambda, linePoint, lineDirection: UnsafeMutablePointer<Double>
    /// Set when this flat's lines are walked by `nfx_walk_line` (see `CompiledLineWalk`).
    var compiled: CompiledLineWalk?

    init(walk: ArrangementWalk, dimension: Int) {
        arrangement = walk.arrangement
        let H = arrangement.count, R = arrangement.rank
        rank = R
        hyperplanes = H
        self.dimension = dimension
        checkOrder = filledBuffer(H, 0)
        for (i, h) in walk.checkOrder.enumerated() { checkOrder[i] = Int32(h) }
        positive = filledBuffer(H, false)
        subsetPosition = filledBuffer(H, -1)
        position = filledBuffer(H, 0.0)
        sortedPosition = filledBuffer(H, 0.0)
        items = filledBuffer(H, 0)
        spareItems = filledBuffer(H, 0)
        keys = filledBuffer(H, 0)
        spareKeys = filledBuffer(H, 0)
        slopes = filledBuffer(H, 0.0)
        dual = filledBuffer(dimension * dimension, 0.0)
        dualDirection = filledBuffer(dimension, 0.0)
        alongLine = filledBuffer(1, 0.0)
        subsetItems = filledBuffer(dimension, 0)
        let subsetCombinations = 1 << min(max(dimension - 1, 0), WalkLimits.precomputedSubsetSize)
        subsetTerms = filledBuffer(subsetCombinations * (R * R + R), 0.0)
        func copy(_ values: [Double]) -> UnsafeMutablePointer<Double> {
            let pointer = filledBuffer(values.count, 0.0)
            for (i, v) in values.enumerated() { pointer[i] = v }
            return pointer
        }
        terms = copy(arrangement.terms)
        normals = copy(arrangement.normals)
        offsets = copy(arrangement.offsets)
        identityMinusA = copy(arrangement.identityMinusA)
        constant = copy(arrangement.c)
        let side = max(R, dimension)
        K = filledBuffer(R * R, 0.0)
        k = filledBuffer(R, 0.0)
        regionK = filledBuffer(R * R, 0.0)
        regionk = filledBuffer(R, 0.0)
        scratch = filledBuffer(side * side, 0.0)
        z = filledBuffer(side, 0.0)
        lambda = filledBuffer(side, 0.0)
        linePoint = filledBuffer(side, 0.0)
        lineDirection = filledBuffer(side, 0.0)
    }

    deinit {
        for pointer in [checkOrder, subsetPosition, items, spareItems, subsetItems] { pointer.deallocate() }
        for pointer in [K, k, regionK, regionk, scratch, z, lambda, linePoint, lineDirection, position, sortedPosition,
                        terms, subsetTerms, normals, offsets, identityMinusA, constant, slopes, dual, dualDirection,
                        alongLine] {
            pointer.deallocate()
        }
        keys.deallocate()
        spareKeys.deallocate()
        positive.deallocate()
    }

    @inline(__always)
    func resetMap() {
        let R = rank
        for i in 0..<R * R { K[i] = 0 }
        for i in 0..<R { k[i] = 0 }
    }

    /// Sums the terms of every combination of the line's hyperplanes, once per line.
    @inline(__always)
    func prepareSubsetTerms(count m: Int) {
        guard m <= WalkLimits.precomputedSubsetSize else { return }
        let R = rank, stride = R * R + R
        for mask in 0..<(1 << m) {
            let target = subsetTerms + mask * stride
            for i in 0..<stride { target[i] = 0 }
            for a in 0..<m where mask & (1 << a) != 0 {
                let record = terms + Int(subsetItems[a]) * stride
                for i in 0..<stride { target[i] += record[i] }
            }
        }
    }

    @inline(__always)
    func toggleMap(_ h: Int, sign: Double) { accumulate(h, sign: sign, into: K, k) }

    /// Adds (sign +1) or removes (−1) hyperplane h's rank-1 term (see SwitchingArrangement).
    @inline(__always)
    func accumulate(_ h: Int, sign: Double, into targetK: UnsafeMutablePointer<Double>,
                                  _ targetk: UnsafeMutablePointer<Double>) {
        let R = rank
        SwitchingArrangement.addTerm(terms + h * (R * R + R), rank: R, sign: sign, K: targetK, k: targetk)
    }

    /// The line {y : ã_h·y + β̂_h = 0 for h in subset} as point + t·direction (written to linePoint and
    /// lineDirection), the direction being d's part orthogonal to the subset's normals; false when the normals are
    /// dependent (no line).
    func line(subset: [Int], normals: [Double], offsets: [Double], direction: [Double]) -> Bool {
        let m = subset.count, k = dimension
        guard m > 0 else {
            for i in 0..<k {
                linePoint[i] = 0
                lineDirection[i] = direction[i]
            }
            alongLine[0] = 1
            return true
        }
        // Gram–Schmidt of the subset's normals: rows = lower · q.
        var q = [Double](repeating: 0, count: m * k)
        var lower = [Double](repeating: 0, count: m * m)
        for (a, h) in subset.enumerated() {
            var size = 0.0
            for i in 0..<k {
                q[a * k + i] = normals[h * k + i]
                size += normals[h * k + i] * normals[h * k + i]
            }
            for b in 0..<a {
                var projection = 0.0
                for i in 0..<k { projection += q[b * k + i] * q[a * k + i] }
                lower[a * m + b] = projection
                for i in 0..<k { q[a * k + i] -= projection * q[b * k + i] }
            }
            var norm = 0.0
            for i in 0..<k { norm += q[a * k + i] * q[a * k + i] }
            norm = norm.squareRoot()
            guard norm > 1e-10 * size.squareRoot(), norm > 0 else { return false }
            lower[a * m + a] = norm
            for i in 0..<k { q[a * k + i] /= norm }
        }
        for i in 0..<k {
            linePoint[i] = 0
            lineDirection[i] = direction[i]
        }
        var alpha = [Double](repeating: 0, count: m)
        for a in 0..<m {
            var sum = -offsets[subset[a]]
            for b in 0..<a { sum -= lower[a * m + b] * alpha[b] }
            alpha[a] = sum / lower[a * m + a]
            for i in 0..<k { linePoint[i] += alpha[a] * q[a * k + i] }
        }
        // d's part orthogonal to the normals, projected twice: when d is nearly in their span, one projection
        // leaves rounding of the size of d in u, enough to make an exactly parallel hyperplane seem to cross.
        for _ in 0..<2 {
            for a in 0..<m {
                var projection = 0.0
                for i in 0..<k { projection += q[a * k + i] * lineDirection[i] }
                for i in 0..<k { lineDirection[i] -= projection * q[a * k + i] }
            }
        }
        var norm = 0.0
        for i in 0..<k { norm += lineDirection[i] * lineDirection[i] }
        norm = norm.squareRoot()
        guard norm > 1e-10 else { return false }
        for i in 0..<k { lineDirection[i] /= norm }
        var along = 0.0
        for i in 0..<k { along += direction[i] * lineDirection[i] }
        alongLine[0] = along
        // Dual basis W = L⁻ᵀ Q of the normals (rows = L Q): invert the lower-triangular L by substitution.
        var inverse = [Double](repeating: 0, count: m * m)
        for column in 0..<m {
            for row in column..<m {
                var sum = row == column ? 1.0 : 0.0
                for j in column..<row { sum -= lower[row * m + j] * inverse[j * m + column] }
                inverse[row * m + column] = sum / lower[row * m + row]
            }
        }
        for a in 0..<m {
            var dotDirection = 0.0
            for i in 0..<k {
                var value = 0.0
                for b in a..<m { value += inverse[b * m + a] * q[b * k + i] }
                dual[a * k + i] = value
                dotDirection += value * direction[i]
            }
            dualDirection[a] = dotDirection
        }
        return true
    }

    /// Solves (I − A − K) z = k + c for the region's K, k into z.
    @inline(__always)
    func solveFixedPoint(_ R: Int) -> Bool {
        SwitchingArrangement.solveFixedPoint(rank: R, identityMinusA: identityMinusA, constant: constant, K: regionK,
                                             k: regionk, scratch: scratch, z: z)
    }

    /// Builds the region's map (walk state, plus the hyperplanes through the vertex on the sides λ picks),
    /// solves its fixed point and keeps it if it lies in the region under the exact model.
    @inline(__always)
    func solveRegion(subsetCount: Int, crossing: Int,
                                   into outcome: inout ArrangementWalk.Outcome) {
        let R = rank
        if subsetCount <= WalkLimits.precomputedSubsetSize {
            // Walk state plus the line's hyperplanes on the sides λ picks, from the line's precomputed sums.
            var mask = 0
            for a in 0..<subsetCount where lambda[a] > 0 { mask |= 1 << a }
            let combination = subsetTerms + mask * (R * R + R)
            for i in 0..<R * R { regionK[i] = K[i] + combination[i] }
            for r in 0..<R { regionk[r] = k[r] + combination[R * R + r] }
        } else {
            for i in 0..<R * R { regionK[i] = K[i] }
            for r in 0..<R { regionk[r] = k[r] }
            for a in 0..<subsetCount where lambda[a] > 0 {
                accumulate(Int(subsetItems[a]), sign: 1, into: regionK, regionk)
            }
        }
        let crossingOn = crossing >= 0 && lambda[subsetCount] > 0
        if crossingOn { accumulate(crossing, sign: 1, into: regionK, regionk) }
        guard solveFixedPoint(R) else {
            outcome.singularRegions += 1
            return
        }
        for index in 0..<hyperplanes {
            let g = Int(checkOrder[index])
            let required: Bool
            if g == crossing {
                required = crossingOn
            } else if subsetPosition[g] >= 0 {
                required = lambda[Int(subsetPosition[g])] > 0
            } else {
                required = positive[g]
            }
            let row = normals + g * R
            var value = offsets[g]
            for r in 0..<R { value += row[r] * z[r] }
            if required ? value < 0 : value > 0 {
                // Only now pay for the rounding-aware tolerance: most candidates fail far from the boundary.
                var magnitude = abs(offsets[g])
                for r in 0..<R { magnitude += abs(row[r] * z[r]) }
                let tolerance = SwitchingArrangement.tolerance(magnitude: magnitude)
                if required ? value < -tolerance : value > tolerance {
                    if index > 0 {
                        checkOrder[index] = checkOrder[0]
                        checkOrder[0] = Int32(g)
                    }
                    return
                }
            }
        }
        outcome.candidates.append(Array(UnsafeBufferPointer(start: z, count: R)))
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

enum WalkLimits {
    /// Lines through at most this many hyperplanes get their 2^m term sums precomputed (R ≤ 7).
    static let precomputedSubsetSize = 6
}
