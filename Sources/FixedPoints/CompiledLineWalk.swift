import CKernels

/// The top-level lines of rank-2 and rank-3 arrangements, walked by CKernels' `nfx_walk_line`: the same walk as
/// `LineContext.walkLine` (crossings, their order, one rank-1 map update per crossing, the region above each
/// vertex solved and checked with the same tolerances), with the map in registers, the R × R solve unrolled and
/// AVX2/FMA where the CPU has them. These lines are all but a vanishing share of the regions; lower flats and other
/// ranks stay in Swift.
final class CompiledLineWalk {
    static func handles(rank: Int, dimension: Int) -> Bool { rank == dimension && (rank == 2 || rank == 3) }

    /// At rank 3 only the lines of pairs within one half of the hyperplanes (even indices, odd indices) are
    /// walked: every vertex (three hyperplanes) has two in one half, so lies on such a line, and half the lines
    /// are left out, half the crossings sorted. A vertex is solved on the line of its first two hyperplanes when
    /// all three are in one half, else on the line of the two that are (`nfx_line.half`). At rank 2 every line
    /// (hyperplane) is needed.
    var pairsWithinHalves: Bool { rank == 3 }

    private let rank: Int
    /// Owned here; the rest of the C view points into the thread's `LineWorkspace`, which owns this object.
    private let normalsByCoordinate, walkOffsets, paddedTerms, direction, sortedPositions,
                candidates: UnsafeMutablePointer<Double>
    private let walkOrder: UnsafeMutablePointer<Int32>
    private let crosses: UnsafeMutablePointer<Bool>
    private let sides: UnsafeMutablePointer<UInt8>
    private let halves: UnsafeMutablePointer<UInt8>
    private var arrangement: nfx_arrangement
    private var buffers: nfx_walk_workspace
    private var line: nfx_line

    init(_ context: LineContext, workspace w: LineWorkspace) {
        let H = context.arrangement.count, R = context.k
        precondition(Self.handles(rank: context.arrangement.rank, dimension: R))
        rank = R
        func make(_ count: Int) -> UnsafeMutablePointer<Double> { filledBuffer(count, 0.0) }
        normalsByCoordinate = make(R * H)
        for h in 0..<H { for i in 0..<R { normalsByCoordinate[i * H + h] = context.normals[h * R + i] } }
        walkOffsets = make(H)
        for h in 0..<H { walkOffsets[h] = context.offsets[h] }
        // The C walk loads records in whole 4-vectors, so the last one needs padding after it.
        let stride = R * R + R
        paddedTerms = make(H * stride + 4)
        for i in 0..<H * stride { paddedTerms[i] = w.terms[i] }
        direction = make(R)
        for i in 0..<R { direction[i] = context.direction[i] }
        sortedPositions = make(H)
        walkOrder = filledBuffer(H, 0)
        crosses = filledBuffer(H, false)
        sides = filledBuffer(H, 0)
        halves = filledBuffer(H, 0)
        if R == 3 { for h in 0..<H { halves[h] = UInt8(h % 2) } }
        candidates = make(H * R)
        arrangement = nfx_arrangement(
            hyperplanes: H, rank: Int32(R), walk_normals: normalsByCoordinate, walk_offsets: walkOffsets,
            normals: w.normals, offsets: w.offsets, terms: paddedTerms, identity_minus_a: w.identityMinusA,
            constant: w.constant, direction: direction, parallel_tolerance: SwitchingArrangement.parallelTolerance,
            singular_tolerance: SwitchingArrangement.singularTolerance,
            side_tolerance: SwitchingArrangement.sideTolerance, halves: halves)
        buffers = nfx_walk_workspace(
            check_order: w.checkOrder, positive: w.positive, position: w.position, slopes: w.slopes, crosses: crosses,
            sides: sides, items: w.items, spare_items: w.spareItems, keys: w.keys, spare_keys: w.spareKeys,
            sorted_positions: sortedPositions, walk_order: walkOrder, candidates: candidates)
        line = nfx_line(point: w.linePoint, direction: w.lineDirection, dual: w.dual, dual_direction: w.dualDirection,
                        along: 0, half: 0, subset: w.subsetItems, subset_position: w.subsetPosition,
                        subset_terms: w.subsetTerms)
    }

    deinit {
        for pointer in [normalsByCoordinate, walkOffsets, paddedTerms, direction, sortedPositions,
                        candidates] {
            pointer.deallocate()
        }
        walkOrder.deallocate()
        crosses.deallocate()
        sides.deallocate()
        halves.deallocate()
    }

    /// Walks the line the workspace has set up (point, direction, dual basis, subset and its term sums).
    func walkLine(along: Double, firstHyperplane: Int, into outcome: inout ArrangementWalk.Outcome) {
        line.along = along
        line.half = pairsWithinHalves ? UInt8(firstHyperplane % 2) : 0
        var result = nfx_line_outcome()
        nfx_walk_line(&arrangement, &buffers, &line, &result)
        outcome.regions += result.regions
        outcome.singularRegions += result.singular_regions
        for index in 0..<result.candidates {
            outcome.candidates.append(Array(UnsafeBufferPointer(start: candidates + index * rank, count: rank)))
        }
        if result.lowest <= result.highest {
            outcome.lowestHeight = min(outcome.lowestHeight ?? result.lowest, result.lowest)
            outcome.highestHeight = max(outcome.highestHeight ?? result.highest, result.highest)
        }
    }
}
