import Dispatch
import Factorization
import LinearAlgebra
import NFXCore

public struct CPEnsembleOptions: Sendable {
    public var ranks: [Int]
    public var replicates: Int
    public var seed: UInt64
    /// Threads for each (batched) fit's passes and updates.
    public var threads: Int

    public init(ranks: [Int], replicates: Int = 8, seed: UInt64 = 0, threads: Int = 2) {
        self.ranks = ranks
        self.replicates = replicates
        self.seed = seed
        self.threads = max(1, threads)
    }
}

/// One fit of an ensemble.
public struct CPEnsembleFit: Sendable {
    public var rank: Int
    public var replicate: Int
    public var result: CPResult
    /// `KruskalSimilarity` to the replicate of the same rank with the lowest error; 1 for that one.
    public var similarity: Double

    public init(rank: Int, replicate: Int, result: CPResult, similarity: Double = .nan) {
        self.rank = rank
        self.replicate = replicate
        self.result = result
        self.similarity = similarity
    }
}

/// Fits of several ranks from several random starts, the diagnostic of Williams et al. (2018): the error says how
/// much each rank explains, the similarity of the replicates how reproducible its components are.
public struct CPEnsemble: Sendable {
    public var fits: [CPEnsembleFit]

    /// Aligns every fit with the best replicate of its rank. Fits may come from separate runs (e.g. one rank
    /// per job); the same (rank, replicate) twice keeps the first.
    public init(fits: [CPEnsembleFit]) {
        var seen = Set<[Int]>()
        var unique = fits.filter { seen.insert([$0.rank, $0.replicate]).inserted }
        unique.sort { ($0.rank, $0.replicate) < ($1.rank, $1.replicate) }
        for rank in Set(unique.map(\.rank)) {
            let members = unique.indices.filter { unique[$0].rank == rank }
            guard let best = members.min(by: { unique[$0].result.relativeError < unique[$1].result.relativeError })
            else { continue }
            for index in members {
                unique[index].similarity = index == best ? 1 : KruskalSimilarity.score(unique[best].result,
                                                                                        unique[index].result)
            }
        }
        self.fits = unique
    }

    /// Per rank: the lowest error, the mean error, and the mean similarity of the other replicates to the best
    /// one (1 with a single replicate).
    public var summary: [(rank: Int, bestError: Double, meanError: Double, meanSimilarity: Double)] {
        Array(Set(fits.map(\.rank))).sorted().map { rank in
            let group = fits.filter { $0.rank == rank }
            let errors = group.map(\.result.relativeError)
            let bestReplicate = best(rank: rank)?.replicate
            let others = group.count > 1 ? group.filter { $0.replicate != bestReplicate } : group
            let similarity = others.map(\.similarity).reduce(0, +) / Double(max(1, others.count))
            return (rank, errors.min() ?? .nan, errors.reduce(0, +) / Double(max(1, errors.count)), similarity)
        }
    }

    /// The best replicate of `rank`.
    public func best(rank: Int) -> CPEnsembleFit? {
        fits.filter { $0.rank == rank }.min { $0.result.relativeError < $1.result.relativeError }
    }

    /// The largest rank whose replicates agree (mean similarity ≥ `threshold`, default 0.95): where the
    /// similarity plot of Williams et al. stops being flat at 1, more components stop being reproducible.
    public func largestStableRank(threshold: Double = 0.95) -> Int? {
        summary.filter { $0.meanSimilarity >= threshold }.map(\.rank).max()
    }

    /// The rank to report when none is asked for, reading the two plots of Williams et al. together: among the
    /// stable ranks (see `largestStableRank`), the smallest whose best error is within `errorTolerance`
    /// (relative, default 3 %) of the largest stable rank's. A component that splits off noise can be
    /// reproducible, but it lowers the error by only a few per cent; a real one lowers it by more.
    public func selectedRank(threshold: Double = 0.95, errorTolerance: Double = 0.03) -> Int? {
        guard let largest = largestStableRank(threshold: threshold),
              let reference = summary.first(where: { $0.rank == largest })?.bestError else { return nil }
        return summary.first { $0.meanSimilarity >= threshold && $0.bestError <= (1 + errorTolerance) * reference }?.rank
    }
}

public enum CPEnsembleFitting {
    /// Fits every rank `options.replicates` times from different random starts (`method.initialization` is
    /// replaced by `.random` with a seed per rank and replicate). With no missing entries, fits are batched in
    /// rank order and each batch shares its passes over the tensor (`CPDecomposition.fitTogether`); with
    /// missing entries they run one after another.
    public static func fit<T: TensorScalar>(_ data: inout [T], shape: [Int], method: CPOptions,
                                            options: CPEnsembleOptions,
                                            progress: ((String) -> Void)? = nil) throws -> CPEnsemble {
        try T.cpEnsemble(&data, shape: shape, method: method, options: options, progress: progress)
    }

    static func fitInPrecision<T: TensorScalar>(_ data: inout [T], shape: [Int], method: CPOptions,
                                                options: CPEnsembleOptions,
                                                progress: ((String) -> Void)?) throws -> CPEnsemble {
        guard options.replicates >= 1 else {
            throw TensorDecompositionError.invalidOption(flag: "--replicates", message: "--replicates must be at least 1, got \(options.replicates)")
        }
        for rank in options.ranks where rank < 1 { throw TensorDecompositionError.invalidRank(rank) }
        try CPDecomposition.validate(shape: shape, count: data.count, options: method)
        let jobs = options.ranks.flatMap { rank in (0..<options.replicates).map { (rank, $0) } }
        let root = SeededGenerator(seed: options.seed)
        let settings = jobs.map { rank, replicate -> CPOptions in
            var settings = method
            settings.rank = rank
            settings.initialization = .random
            var stream = root.split(stream: UInt64(rank) << 20 | UInt64(replicate))
            settings.seed = stream.next()
            return settings
        }
        var results = [CPResult?](repeating: nil, count: jobs.count)
        var shared = method
        shared.threads = options.threads
        let scan = data.withUnsafeBufferPointer { TensorScan($0) }
        if !scan.missing.isEmpty {
            // Each fit refills the missing entries with its own model, so the fits cannot share passes.
            for index in jobs.indices {
                progress?("rank \(jobs[index].0), replicate \(jobs[index].1 + 1) of \(options.replicates)")
                var single = settings[index]
                single.threads = options.threads
                results[index] = try data.withUnsafeMutableBufferPointer { X in
                    try CPDecomposition.fit(X, shape: shape, options: single, progress: nil)
                }
            }
        } else {
            try data.withUnsafeBufferPointer { X in
                for batch in batches(ranks: jobs.map(\.0), columnBudget: shape[2]) {
                    let ranks = Set(batch.map { jobs[$0].0 }).sorted()
                    progress?("rank\(ranks.count > 1 ? "s" : "") \(ranks.map(String.init).joined(separator: ", ")): "
                              + "\(batch.count) fits together")
                    let fitted = try CPDecomposition.fitTogether(X, shape: shape, options: shared,
                                                                 members: batch.map { settings[$0] }, scan: scan)
                    for (index, result) in zip(batch, fitted) { results[index] = result }
                }
            }
        }
        let fits = jobs.enumerated().map { index, job in
            CPEnsembleFit(rank: job.0, replicate: job.1, result: results[index]!)
        }
        return CPEnsemble(fits: fits)
    }
}

/// Groups consecutive jobs (ordered by rank) into batches fitted together, each with at most `columnBudget`
/// stacked components (at least one job per batch): the stacked Yᵀ then holds no more values than the tensor.
func batches(ranks: [Int], columnBudget: Int) -> [[Int]] {
    var result: [[Int]] = [], current: [Int] = [], columns = 0
    for index in ranks.indices {
        if !current.isEmpty && columns + ranks[index] > columnBudget {
            result.append(current)
            current = []
            columns = 0
        }
        current.append(index)
        columns += ranks[index]
    }
    if !current.isEmpty { result.append(current) }
    return result
}
