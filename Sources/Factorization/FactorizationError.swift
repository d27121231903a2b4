/// Why a factorization could not be computed, phrased so that a user can act on it.
public enum FactorizationError: Error, CustomStringConvertible, Equatable {
    /// NMF needs non-negative data.
    case negativeEntries(count: Int, minimum: Double)
    /// The rank must be between 1 and the smaller dimension of the data.
    case invalidRank(rank: Int, rows: Int, columns: Int)
    /// Every entry is missing (NaN), or too few are observed to hold some out.
    case tooFewObserved(observed: Int, needed: Int)
    /// Initial factors given by the caller do not fit the data.
    case invalidInitialFactors(String)
    /// An option outside its domain (the flag is named, for the command line).
    case invalidOption(flag: String, message: String)
    /// A LAPACK or BLAS call failed; carries its description.
    case numerical(String)

    public var description: String {
        switch self {
        case let .negativeEntries(count, minimum):
            return "non-negative factorization needs data ≥ 0, but \(count) entries are negative (minimum \(minimum))"
        case let .invalidRank(rank, rows, columns):
            return "the rank must be between 1 and min(rows, columns) = \(min(rows, columns)) for \(rows) × \(columns) data, got \(rank)"
        case let .tooFewObserved(observed, needed):
            return "only \(observed) entries are observed (not NaN); at least \(needed) are needed"
        case let .invalidInitialFactors(message):
            return "initial factors: \(message)"
        case let .invalidOption(_, message):
            return message
        case let .numerical(message):
            return message
        }
    }
}
