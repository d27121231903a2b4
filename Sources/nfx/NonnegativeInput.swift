import ArgumentParser
import NFXIO

/// What the non-negative methods (factorize --method nmf, tca --method ncp) do with negative input:
/// refuse it (exit 65, with the count and the minimum), or, when asked, clip or shift it.
struct NonnegativeInput {
    var clip: Bool
    var shiftMin: Bool

    /// Applies --clip or --shift-min, else checks; returns the amount --shift-min subtracted.
    func prepare(_ data: inout [Double], name: String, method: String, alternative: String) throws -> Double? {
        if clip {
            for index in data.indices where data[index] < 0 { data[index] = 0 }
            return nil
        }
        if shiftMin {
            let minimum = data.lazy.filter { !$0.isNaN }.min() ?? 0
            for index in data.indices { data[index] -= minimum }
            return minimum
        }
        var count = 0
        var minimum = Double.infinity
        for value in data where value < 0 {
            count += 1
            minimum = min(minimum, value)
        }
        if count > 0 {
            throw NFXError.data("\(name): \(method) needs data ≥ 0, but \(count) entries are negative (minimum \(minimum))",
                                hint: "pass --shift-min (subtract the minimum) or --clip (set negative entries to 0), or use \(alternative)")
        }
        return nil
    }
}

/// `--ranks A-B` (or `A`) as an ascending list of ranks.
func parseRankRange(_ text: String, example: String) throws -> [Int] {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false).map {
        Int($0.trimmingCharacters(in: .whitespaces))
    }
    guard (1...2).contains(parts.count), let low = parts.first ?? nil, let high = parts.last ?? nil,
          low >= 1, low <= high else {
        throw ValidationError("--ranks takes A-B with 1 ≤ A ≤ B (e.g. \(example)), got '\(text)'")
    }
    return Array(low...high)
}
