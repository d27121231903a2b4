/// A spike sorting scored against ground truth exactly as SpikeInterface's `compare_sorter_to_ground_truth` scores
/// it (spikeinterface 0.105, `comparison/comparisontools.py` and `comparison/paircomparisons.py`), so that numbers
/// from nfx can be set beside published SpikeInterface benchmarks. Each step below keeps SpikeInterface's rule even
/// where a cleaner one exists, because a different rule gives different numbers:
///
/// - Window: two spikes coincide when their sample indices differ by at most `deltaFrames`, where
///   `deltaFrames = Int(deltaTime / 1000 · samplingRate)` is *truncated*, not rounded (0.4 ms at 32 kHz is 12.8
///   samples, so 12).
/// - Match counts: both trains are walked in time order; for each truth spike, every sorted spike inside its window
///   is considered in time order, and the pair of units counts a match when neither this truth spike nor this
///   sorted spike was the *last* one matched for that pair. So a truth spike matches at most one spike of each
///   sorted unit, but a sorted spike can be matched again by a later truth spike of the same unit once the pair
///   has matched some other spike in between (bursts inside the window). Counts are finally clipped to the sorted
///   unit's spike count. It is not an optimal one-to-one matching.
/// - Agreement: matches / (truth spikes + sorted spikes − matches).
/// - Pairing: a Hungarian assignment maximising the sum of agreements after those below `matchScore` are set to
///   zero, with SciPy's tie-breaking (see `SciPyOrderAssignment`); an assigned pair counts only if its agreement is
///   ≥ `matchScore`.
/// - Per truth unit: matched → tp = matches, fn = truth spikes − tp, fp = all spikes of the sorted unit − tp
///   (so its spikes that belong to other truth units count as false positives); unmatched → tp = fp = 0,
///   fn = truth spikes. Rates are zero — miss rate included — whenever tp = 0.
/// - Unit categories: well detected = Hungarian-matched sorted units with agreement ≥ `wellDetectedScore`. The
///   others need an exhaustive ground truth (every real neuron in it), else an unmatched sorted unit might be a
///   real neuron: bad = not Hungarian-matched; false positive = bad and its best truth unit (argmax of its column,
///   if ≥ `chanceScore`) is absent or agrees < `redundantScore`; redundant = bad, agreeing ≥ `redundantScore` with
///   its best truth unit, which prefers another sorted unit; overmerged = agreement > `overmergedScore` with two or
///   more truth units.
///
/// Units are the distinct labels of each train, in ascending order (as SpikeInterface's `NumpySorting` builds
/// them), so a unit exists only if it has spikes. Cost: sorting both trains by time, then one sweep whose work is
/// the number of (truth spike, sorted spike) pairs within the window (a few per spike at physiological rates; it
/// would grow quadratically only if thousands of spikes shared one window), plus O(truth units × sorted units) for
/// the matrices and a Hungarian assignment of O(min² · max) in the unit counts.
public struct GroundTruthComparison: Sendable {
    /// SpikeInterface's defaults.
    public struct Options: Sendable, Equatable {
        /// Half-width of the coincidence window in milliseconds (inclusive).
        public var deltaTimeMilliseconds: Double
        /// Minimum agreement for a Hungarian pair to count as a match.
        public var matchScore: Double
        /// Minimum agreement for a matched sorted unit to count as well detected.
        public var wellDetectedScore: Double
        /// Agreement with its best truth unit at or above which an unmatched sorted unit is redundant rather than a
        /// false positive.
        public var redundantScore: Double
        /// Agreement above which a sorted unit is counted towards each truth unit it may have merged.
        public var overmergedScore: Double
        /// Minimum agreement for a unit's best counterpart (argmax) to count at all.
        public var chanceScore: Double
        /// Whether the ground truth holds every neuron in the recording; only then are false-positive, redundant,
        /// overmerged and bad units reported.
        public var exhaustiveGroundTruth: Bool

        public init(deltaTimeMilliseconds: Double = 0.4, matchScore: Double = 0.5, wellDetectedScore: Double = 0.8,
                    redundantScore: Double = 0.2, overmergedScore: Double = 0.2, chanceScore: Double = 0.1,
                    exhaustiveGroundTruth: Bool = false) {
            self.deltaTimeMilliseconds = deltaTimeMilliseconds
            self.matchScore = matchScore
            self.wellDetectedScore = wellDetectedScore
            self.redundantScore = redundantScore
            self.overmergedScore = overmergedScore
            self.chanceScore = chanceScore
            self.exhaustiveGroundTruth = exhaustiveGroundTruth
        }
    }

    /// The score of one ground-truth unit.
    public struct UnitScore: Sendable, Equatable {
        public let truthUnit: Int32
        /// The sorted unit paired with it, or nil when no pair reached `matchScore`.
        public let matchedSortedUnit: Int32?
        public let truthSpikeCount: Int
        /// Spikes of the matched sorted unit (0 when unmatched).
        public let matchedSpikeCount: Int
        public let truePositives: Int
        public let falseNegatives: Int
        public let falsePositives: Int
        /// tp / (tp + fn + fp).
        public let accuracy: Double
        /// tp / (tp + fp).
        public let precision: Double
        /// tp / (tp + fn).
        public let recall: Double
        /// fp / (tp + fp).
        public let falseDiscoveryRate: Double
        /// fn / truth spikes.
        public let missRate: Double
    }

    /// Sorted units by category, each list in ascending label order.
    public struct UnitCategories: Sendable, Equatable {
        public let wellDetected: [Int32]
        /// nil unless `exhaustiveGroundTruth`.
        public let falsePositive: [Int32]?
        /// nil unless `exhaustiveGroundTruth`.
        public let redundant: [Int32]?
        /// nil unless `exhaustiveGroundTruth`.
        public let overmerged: [Int32]?
        /// nil unless `exhaustiveGroundTruth`.
        public let bad: [Int32]?
    }

    public let options: Options
    public let samplingRate: Double
    /// The coincidence half-width in samples.
    public let deltaFrames: Int64
    /// Ground-truth unit labels, ascending; rows of the matrices.
    public let truthUnits: [Int32]
    /// Sorted unit labels, ascending; columns of the matrices.
    public let sortedUnits: [Int32]
    /// Row-major truthUnits.count × sortedUnits.count matched-spike counts.
    public let matchCounts: [Int]
    /// Row-major truthUnits.count × sortedUnits.count agreement scores.
    public let agreementScores: [Double]
    /// One per truth unit, in `truthUnits` order.
    public let unitScores: [UnitScore]
    public let unitCategories: UnitCategories

    public var wellDetectedCount: Int { unitCategories.wellDetected.count }
    public var falsePositiveCount: Int? { unitCategories.falsePositive?.count }
    public var redundantCount: Int? { unitCategories.redundant?.count }
    public var overmergedCount: Int? { unitCategories.overmerged?.count }
    public var badCount: Int? { unitCategories.bad?.count }

    /// Matched spikes between two units, or nil if either label is not a unit of its train.
    public func matchCount(truthUnit: Int32, sortedUnit: Int32) -> Int? {
        guard let cell = cellIndex(truthUnit: truthUnit, sortedUnit: sortedUnit) else { return nil }
        return matchCounts[cell]
    }

    /// Agreement between two units, or nil if either label is not a unit of its train.
    public func agreement(truthUnit: Int32, sortedUnit: Int32) -> Double? {
        guard let cell = cellIndex(truthUnit: truthUnit, sortedUnit: sortedUnit) else { return nil }
        return agreementScores[cell]
    }

    private func cellIndex(truthUnit: Int32, sortedUnit: Int32) -> Int? {
        guard let row = binarySearch(truthUnits, truthUnit), let column = binarySearch(sortedUnits, sortedUnit)
        else { return nil }
        return row * sortedUnits.count + column
    }

    /// `truthSamples`/`sortedSamples` are spike sample indices in any order, paired with unit labels ≥ 0.
    public init(truthSamples: [Int64], truthLabels: [Int32], sortedSamples: [Int64], sortedLabels: [Int32],
                samplingRate: Double, options: Options = Options()) throws(SpikeSortingError) {
        let truth = try SpikeTrain(samples: truthSamples, labels: truthLabels, name: "ground truth")
        let sorted = try SpikeTrain(samples: sortedSamples, labels: sortedLabels, name: "sorting")
        guard samplingRate.isFinite && samplingRate > 0 else { throw .nonPositiveSamplingRate(samplingRate) }
        try Self.validate(options)
        // Python's int() truncates toward zero; the same operation order keeps the same double.
        let windowInSamples = options.deltaTimeMilliseconds / 1000 * samplingRate
        guard windowInSamples < 0x1p62 else {
            throw .invalidOption(flag: "--delta-time", message:
                "delta time \(options.deltaTimeMilliseconds) ms is too long at \(samplingRate) Hz")
        }
        let deltaFrames = Int64(windowInSamples)

        let rows = truth.units.count
        let columns = sorted.units.count
        let counts = Self.countMatches(truth: truth, sorted: sorted, deltaFrames: deltaFrames)
        var agreements = [Double](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let matches = counts[r * columns + c]
                let union = truth.spikeCounts[r] + sorted.spikeCounts[c] - matches
                agreements[r * columns + c] = union > 0 ? Double(matches) / Double(union) : 0
            }
        }

        // Hungarian pairing on agreements thresholded at matchScore, then only pairs reaching it are kept. The
        // costs are the negated thresholded agreements, the very matrix SpikeInterface hands to SciPy.
        let costs = agreements.map { $0 < options.matchScore ? -0.0 : -$0 }
        let assignment = SciPyOrderAssignment.minimizing(costs: costs, rows: rows, columns: columns)
        var sortedOfTruth = [Int?](repeating: nil, count: rows)
        var truthOfSorted = [Int?](repeating: nil, count: columns)
        for r in 0..<rows {
            if let c = assignment[r], agreements[r * columns + c] >= options.matchScore {
                sortedOfTruth[r] = c
                truthOfSorted[c] = r
            }
        }

        var scores: [UnitScore] = []
        scores.reserveCapacity(rows)
        for r in 0..<rows {
            let truthSpikes = truth.spikeCounts[r]
            let matchedColumn = sortedOfTruth[r]
            let matchedSpikes = matchedColumn.map { sorted.spikeCounts[$0] } ?? 0
            let tp = matchedColumn.map { counts[r * columns + $0] } ?? 0
            scores.append(Self.unitScore(truthUnit: truth.units[r],
                                         matchedSortedUnit: matchedColumn.map { sorted.units[$0] },
                                         truthSpikes: truthSpikes, matchedSpikes: matchedSpikes, truePositives: tp))
        }

        self.options = options
        self.samplingRate = samplingRate
        self.deltaFrames = deltaFrames
        self.truthUnits = truth.units
        self.sortedUnits = sorted.units
        self.matchCounts = counts
        self.agreementScores = agreements
        self.unitScores = scores
        self.unitCategories = Self.categorize(agreements: agreements, rows: rows, truthOfSorted: truthOfSorted,
                                              sortedUnits: sorted.units, options: options)
    }

    private static func validate(_ options: Options) throws(SpikeSortingError) {
        guard options.deltaTimeMilliseconds.isFinite && options.deltaTimeMilliseconds >= 0 else {
            throw .invalidOption(flag: "--delta-time",
                                 message: "delta time \(options.deltaTimeMilliseconds) ms must be finite and ≥ 0")
        }
        let thresholds: [(String, Double)] = [
            ("--match-score", options.matchScore), ("--well-detected-score", options.wellDetectedScore),
            ("--redundant-score", options.redundantScore), ("--overmerged-score", options.overmergedScore),
            ("--chance-score", options.chanceScore),
        ]
        for (flag, value) in thresholds where !value.isFinite {
            throw .invalidOption(flag: flag, message: "\(flag) must be a finite agreement score, got \(value)")
        }
    }

    /// SpikeInterface's `compute_performance`: every rate is zero unless the unit has spikes and tp > 0.
    private static func unitScore(truthUnit: Int32, matchedSortedUnit: Int32?, truthSpikes: Int, matchedSpikes: Int,
                                  truePositives tp: Int) -> UnitScore {
        let fn = truthSpikes - tp
        let fp = matchedSortedUnit == nil ? 0 : matchedSpikes - tp
        let scored = truthSpikes > 0 && tp > 0
        func ratio(_ numerator: Int, _ denominator: Int) -> Double {
            scored ? Double(numerator) / Double(denominator) : 0
        }
        return UnitScore(truthUnit: truthUnit, matchedSortedUnit: matchedSortedUnit, truthSpikeCount: truthSpikes,
                         matchedSpikeCount: matchedSpikes, truePositives: tp, falseNegatives: fn, falsePositives: fp,
                         accuracy: ratio(tp, tp + fn + fp), precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn),
                         falseDiscoveryRate: ratio(fp, tp + fp), missRate: ratio(fn, truthSpikes))
    }

    /// The match-count rule described on the type, as one sweep over both time-ordered trains. Per pair of units
    /// only the last matched truth and sorted spike are remembered, which is what lets a sorted spike be matched
    /// twice inside a burst; the final clip to the sorted unit's spike count bounds that.
    private static func countMatches(truth: SpikeTrain, sorted: SpikeTrain, deltaFrames: Int64) -> [Int] {
        let columns = sorted.units.count
        let cells = truth.units.count * columns
        var counts = [Int](repeating: 0, count: cells)
        guard cells > 0 else { return counts }
        var lastTruthSpike = [Int](repeating: -1, count: cells)
        var lastSortedSpike = [Int](repeating: -1, count: cells)
        let window = UInt64(deltaFrames)

        truth.timeOrder.withUnsafeBufferPointer { truthOrder in
            sorted.timeOrder.withUnsafeBufferPointer { sortedOrder in
                var firstCandidate = 0
                for i in 0..<truthOrder.count {
                    let truthTime = truthOrder[i].sample
                    let row = Int(truthOrder[i].unit) * columns
                    // Sorted spikes before the window of this truth spike are before every later window too.
                    while firstCandidate < sortedOrder.count,
                          isBefore(sortedOrder[firstCandidate].sample, truthTime, by: window) {
                        firstCandidate += 1
                    }
                    var j = firstCandidate
                    while j < sortedOrder.count && !isBefore(truthTime, sortedOrder[j].sample, by: window) {
                        let cell = row + Int(sortedOrder[j].unit)
                        if lastTruthSpike[cell] != i && lastSortedSpike[cell] != j {
                            lastTruthSpike[cell] = i
                            lastSortedSpike[cell] = j
                            counts[cell] += 1
                        }
                        j += 1
                    }
                }
            }
        }
        for cell in 0..<cells {
            counts[cell] = min(counts[cell], sorted.spikeCounts[cell % columns])
        }
        return counts
    }

    /// Whether `earlier` precedes `later` by more than `window` samples, without overflow for any Int64 pair:
    /// the wrapping difference read as unsigned is the exact distance when `earlier < later`.
    @inline(__always)
    private static func isBefore(_ earlier: Int64, _ later: Int64, by window: UInt64) -> Bool {
        earlier < later && UInt64(bitPattern: later &- earlier) > window
    }

    private static func categorize(agreements: [Double], rows: Int, truthOfSorted: [Int?], sortedUnits: [Int32],
                                   options: Options) -> UnitCategories {
        let columns = sortedUnits.count
        var wellDetected: [Int32] = []
        for c in 0..<columns {
            if let r = truthOfSorted[c], agreements[r * columns + c] >= options.wellDetectedScore {
                wellDetected.append(sortedUnits[c])
            }
        }
        guard options.exhaustiveGroundTruth else {
            return UnitCategories(wellDetected: wellDetected, falsePositive: nil, redundant: nil, overmerged: nil,
                                  bad: nil)
        }

        // Best counterparts as SpikeInterface's make_best_match: the first maximum, kept if ≥ chanceScore.
        func bestSortedColumn(ofRow r: Int) -> Int? {
            guard columns > 0 else { return nil }
            var best = 0
            for c in 1..<columns where agreements[r * columns + c] > agreements[r * columns + best] { best = c }
            return agreements[r * columns + best] >= options.chanceScore ? best : nil
        }
        func bestTruthRow(ofColumn c: Int) -> Int? {
            guard rows > 0 else { return nil }
            var best = 0
            for r in 1..<rows where agreements[r * columns + c] > agreements[best * columns + c] { best = r }
            return agreements[best * columns + c] >= options.chanceScore ? best : nil
        }

        var falsePositive: [Int32] = []
        var redundant: [Int32] = []
        var overmerged: [Int32] = []
        var bad: [Int32] = []
        for c in 0..<columns {
            let unit = sortedUnits[c]
            var truthUnitsAboveOvermerged = 0
            for r in 0..<rows where agreements[r * columns + c] > options.overmergedScore {
                truthUnitsAboveOvermerged += 1
            }
            if truthUnitsAboveOvermerged > 1 { overmerged.append(unit) }
            guard truthOfSorted[c] == nil else { continue }
            bad.append(unit)
            guard let r = bestTruthRow(ofColumn: c) else {
                falsePositive.append(unit)
                continue
            }
            let score = agreements[r * columns + c]
            if score < options.redundantScore {
                falsePositive.append(unit)
            } else if bestSortedColumn(ofRow: r) != c {
                redundant.append(unit)
            }
        }
        return UnitCategories(wellDetected: wellDetected, falsePositive: falsePositive, redundant: redundant,
                              overmerged: overmerged, bad: bad)
    }
}

/// One train as the comparison needs it: its units (distinct labels, ascending), spikes per unit, and its spikes in
/// time order with labels replaced by unit indices.
private struct SpikeTrain {
    struct Spike {
        var sample: Int64
        var unit: Int32
    }

    let units: [Int32]
    let spikeCounts: [Int]
    let timeOrder: [Spike]

    init(samples: [Int64], labels: [Int32], name: String) throws(SpikeSortingError) {
        guard samples.count == labels.count else {
            throw .spikeLabelCountMismatch(train: name, samples: samples.count, labels: labels.count)
        }
        if let negative = labels.first(where: { $0 < 0 }) { throw .negativeUnitLabel(train: name, label: negative) }

        let units = Set(labels).sorted()
        var indexOfLabel: [Int32: Int32] = [:]
        indexOfLabel.reserveCapacity(units.count)
        for (index, label) in units.enumerated() { indexOfLabel[label] = Int32(index) }

        var spikeCounts = [Int](repeating: 0, count: units.count)
        var spikes: [Spike] = []
        spikes.reserveCapacity(samples.count)
        var alreadyInOrder = true
        for k in 0..<samples.count {
            // Every label is a key: the keys were built from these labels.
            let unit = indexOfLabel[labels[k]] ?? 0
            spikeCounts[Int(unit)] += 1
            if k > 0 && samples[k] < samples[k - 1] { alreadyInOrder = false }
            spikes.append(Spike(sample: samples[k], unit: unit))
        }
        // Order among equal sample indices does not change any count: each pair of units only sees its own spikes,
        // and equal-time spikes of one unit are interchangeable.
        if !alreadyInOrder { spikes.sort { $0.sample < $1.sample } }

        self.units = units
        self.spikeCounts = spikeCounts
        self.timeOrder = spikes
    }
}

/// Minimum-cost assignment that breaks ties exactly as SciPy's `linear_sum_assignment` does, which SpikeInterface
/// uses for its Hungarian pairing. NFXCore's `OptimalAssignment` finds an assignment of the same total, but when
/// agreements tie (they are ratios of small integers, so 14/27 and 28/54 do) it can pick the other pair, and with
/// it other tp/fn/fp; matching SpikeInterface unit for unit needs SciPy's order too.
///
/// SciPy's solver (scipy/optimize/rectangular_lsap, after D. F. Crouse, "On implementing 2D rectangular
/// assignment algorithms", IEEE Trans. Aerosp. Electron. Syst. 52(4), 2016) is a shortest augmenting path method
/// that adds one row at a time. The choices that decide ties, kept here: a tall matrix is solved transposed; the
/// unvisited columns are scanned from a list that starts in descending column order and loses a visited column by
/// moving the list's last entry into its slot; a column's path cost is replaced only when strictly lower; the
/// cheapest column wins, a free one winning among equals; and the reduced costs and potentials are computed with
/// the same operations in the same order, so equal costs stay exactly equal.
private enum SciPyOrderAssignment {
    /// `costs` is row-major rows × columns and finite. Returns for each row its column, or nil if unassigned.
    static func minimizing(costs: [Double], rows: Int, columns: Int) -> [Int?] {
        var columnOfRow = [Int?](repeating: nil, count: rows)
        guard rows > 0 && columns > 0 else { return columnOfRow }
        if columns >= rows {
            let assigned = solveWide(costs, rows: rows, columns: columns)
            for r in 0..<rows { columnOfRow[r] = assigned[r] }
        } else {
            var transposed = [Double](repeating: 0, count: costs.count)
            for r in 0..<rows {
                for c in 0..<columns { transposed[c * rows + r] = costs[r * columns + c] }
            }
            let rowOfColumn = solveWide(transposed, rows: columns, columns: rows)
            for c in 0..<columns where rowOfColumn[c] >= 0 { columnOfRow[rowOfColumn[c]] = c }
        }
        return columnOfRow
    }

    /// rows ≤ columns. Returns the column assigned to each row (−1 only if the costs were not finite).
    private static func solveWide(_ cost: [Double], rows: Int, columns: Int) -> [Int] {
        var rowPotential = [Double](repeating: 0, count: rows)
        var columnPotential = [Double](repeating: 0, count: columns)
        var pathCost = [Double](repeating: .infinity, count: columns)
        var predecessorRow = [Int](repeating: -1, count: columns)
        var columnOfRow = [Int](repeating: -1, count: rows)
        var rowOfColumn = [Int](repeating: -1, count: columns)
        var rowVisited = [Bool](repeating: false, count: rows)
        var columnVisited = [Bool](repeating: false, count: columns)
        var unvisited = [Int](repeating: 0, count: columns)

        for newRow in 0..<rows {
            for k in 0..<columns { unvisited[k] = columns - 1 - k }
            var unvisitedCount = columns
            for k in 0..<rows { rowVisited[k] = false }
            for k in 0..<columns {
                columnVisited[k] = false
                pathCost[k] = .infinity
            }

            var row = newRow
            var distance = 0.0
            var sink = -1
            while sink < 0 {
                rowVisited[row] = true
                var cheapestSlot = -1
                var cheapest = Double.infinity
                for slot in 0..<unvisitedCount {
                    let column = unvisited[slot]
                    let reduced = distance + cost[row * columns + column] - rowPotential[row] - columnPotential[column]
                    if reduced < pathCost[column] {
                        predecessorRow[column] = row
                        pathCost[column] = reduced
                    }
                    if pathCost[column] < cheapest || (pathCost[column] == cheapest && rowOfColumn[column] == -1) {
                        cheapest = pathCost[column]
                        cheapestSlot = slot
                    }
                }
                // Unreachable for finite costs; leave the remaining rows unassigned rather than loop.
                guard cheapestSlot >= 0 && cheapest < .infinity else { return columnOfRow }
                distance = cheapest
                let column = unvisited[cheapestSlot]
                if rowOfColumn[column] == -1 { sink = column } else { row = rowOfColumn[column] }
                columnVisited[column] = true
                unvisitedCount -= 1
                unvisited[cheapestSlot] = unvisited[unvisitedCount]
            }

            rowPotential[newRow] += distance
            for r in 0..<rows where rowVisited[r] && r != newRow {
                rowPotential[r] += distance - pathCost[columnOfRow[r]]
            }
            for c in 0..<columns where columnVisited[c] {
                columnPotential[c] -= distance - pathCost[c]
            }

            // Flip the path back to the new row.
            var column = sink
            while true {
                let r = predecessorRow[column]
                rowOfColumn[column] = r
                swap(&columnOfRow[r], &column)
                if r == newRow { break }
            }
        }
        return columnOfRow
    }
}

private func binarySearch(_ values: [Int32], _ target: Int32) -> Int? {
    var low = 0
    var high = values.count
    while low < high {
        let mid = (low + high) / 2
        if values[mid] < target { low = mid + 1 } else { high = mid }
    }
    return low < values.count && values[low] == target ? low : nil
}
