import Foundation

/// Maximum-weight (or minimum-cost) assignment between the rows and columns of a rectangular score matrix
/// (Hungarian algorithm / Kuhn–Munkres with potentials, O(n² m)), used to match components between two fits.
///
/// - H. W. Kuhn, "The Hungarian method for the assignment problem", Naval Research Logistics Quarterly 2, 1955.
/// - J. Munkres, "Algorithms for the assignment and transportation problems", J. SIAM 5(1), 1957.
/// - The form used here grows one row at a time along a shortest augmenting path in reduced costs, keeping dual
///   potentials feasible (R. Jonker and A. Volgenant, "A shortest augmenting path algorithm for dense and sparse
///   linear assignment problems", Computing 38, 1987). It needs no search for covering lines, handles a
///   rectangular matrix directly when rows ≤ columns, and costs O(n² m) for n ≤ m.
///
/// Non-finite entries. An optimum is only well defined over finite numbers, and a NaN compared with anything is
/// false, which can stall a shortest-path search. So, before solving, the finite entries are scaled by a power of
/// two (exact, keeps the optimum, keeps potentials far from overflow) to lie in (−1, 1), and every non-finite
/// entry becomes a finite stand-in, with k = min(rows, columns) pairs to make and M = 2k + 1:
/// - an entry that is never wanted (cost +∞ or NaN when minimising; score −∞ or NaN when maximising) costs M(k + 1),
/// - an entry that is always wanted (cost −∞ when minimising; score +∞ when maximising) costs −M.
/// M exceeds any difference the finite part of two assignments can make (at most 2k), and M(k + 1) exceeds any
/// difference the wanted entries and finite part together can make, so the result is lexicographic: first as few
/// unwanted entries as possible, then as many wanted entries as possible, then the best finite total.
public enum OptimalAssignment {
    /// `scores` is row-major rows × columns. Returns for each row the column assigned to it, or nil when
    /// rows > columns and the row is left unmatched. Maximises the sum of matched scores.
    /// Each column is used at most once; min(rows, columns) pairs are made.
    /// NaN scores are treated as −∞ (never preferred); rows or columns = 0 returns all-nil / empty.
    public static func maximizing(scores: [Double], rows: Int, columns: Int) -> [Int?] {
        precondition(rows >= 0 && columns >= 0, "OptimalAssignment: negative dimension")
        precondition(scores.count == rows * columns, "OptimalAssignment: scores.count must equal rows × columns")
        // Maximising s is minimising −s; NaN stays NaN and so stays unwanted.
        return solve(costs: scores.map { -$0 }, rows: rows, columns: columns)
    }

    /// Same, minimising the sum of costs. NaN costs are treated as +∞ (never preferred).
    public static func minimizing(costs: [Double], rows: Int, columns: Int) -> [Int?] {
        precondition(rows >= 0 && columns >= 0, "OptimalAssignment: negative dimension")
        precondition(costs.count == rows * columns, "OptimalAssignment: costs.count must equal rows × columns")
        return solve(costs: costs, rows: rows, columns: columns)
    }

    private static func solve(costs: [Double], rows: Int, columns: Int) -> [Int?] {
        var result = [Int?](repeating: nil, count: rows)
        guard rows > 0 && columns > 0 else { return result }

        let sanitized = finiteCosts(costs, pairs: min(rows, columns))
        // The path search below assumes at least as many columns as rows, so a tall matrix is solved transposed.
        if rows <= columns {
            let match = shortestAugmentingPath(sanitized, n: rows, m: columns)
            for column in 0..<columns where match[column] >= 0 {
                result[match[column]] = column
            }
        } else {
            var transposed = [Double](repeating: 0, count: costs.count)
            for r in 0..<rows {
                for c in 0..<columns { transposed[c * rows + r] = sanitized[r * columns + c] }
            }
            let match = shortestAugmentingPath(transposed, n: columns, m: rows)
            for row in 0..<rows where match[row] >= 0 {
                result[row] = match[row]
            }
        }
        return result
    }

    /// Replaces non-finite costs by the stand-ins described on the type and scales finite ones into (−1, 1).
    private static func finiteCosts(_ costs: [Double], pairs k: Int) -> [Double] {
        var largest = 0.0
        for x in costs where x.isFinite { largest = max(largest, abs(x)) }
        // A power of two keeps every scaled value exact (barring underflow of entries ~2⁻¹⁰⁰⁰ times the largest),
        // so ties in the input stay ties.
        let scale = largest > 0 ? Double(sign: .plus, exponent: -(largest.exponent + 1), significand: 1) : 1
        let m = Double(2 * k + 1)
        let wanted = -m
        let unwanted = m * Double(k + 1)
        return costs.map { x in
            if x.isFinite { return x * scale }
            return x == -.infinity ? wanted : unwanted
        }
    }

    /// Minimum-cost assignment of all n rows to distinct columns of a finite n × m matrix, n ≤ m.
    /// Returns, for each column, the row assigned to it or −1.
    ///
    /// Potentials u (rows) and v (columns) keep every reduced cost c[i][j] − u[i] − v[j] ≥ 0 and zero on matched
    /// pairs; each new row is joined by a Dijkstra search over reduced costs, so the matching stays optimal for the
    /// rows added so far. Index 0 is a virtual column that holds the row being inserted, which keeps the
    /// augmentation loop free of special cases.
    private static func shortestAugmentingPath(_ cost: [Double], n: Int, m: Int) -> [Int] {
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: m + 1)
        var rowOfColumn = [Int](repeating: 0, count: m + 1)  // 1-based rows; 0 = free
        var previousColumn = [Int](repeating: 0, count: m + 1)
        var minimumSlack = [Double](repeating: 0, count: m + 1)
        var visited = [Bool](repeating: false, count: m + 1)

        for row in 1...n {
            rowOfColumn[0] = row
            var current = 0
            for j in 0...m {
                minimumSlack[j] = .infinity
                visited[j] = false
            }
            // Each pass visits one more column, and a free column exists because n ≤ m, so this ends within m passes.
            repeat {
                visited[current] = true
                let i = rowOfColumn[current]
                let base = (i - 1) * m
                var delta = Double.infinity
                var next = 0
                for j in 1...m where !visited[j] {
                    let slack = cost[base + j - 1] - u[i] - v[j]
                    if slack < minimumSlack[j] {
                        minimumSlack[j] = slack
                        previousColumn[j] = current
                    }
                    if minimumSlack[j] < delta {
                        delta = minimumSlack[j]
                        next = j
                    }
                }
                // Only reachable if the costs were not finite, which finiteCosts rules out.
                precondition(next != 0, "OptimalAssignment: no augmenting column (non-finite cost)")
                for j in 0...m {
                    if visited[j] {
                        u[rowOfColumn[j]] += delta
                        v[j] -= delta
                    } else {
                        minimumSlack[j] -= delta
                    }
                }
                current = next
            } while rowOfColumn[current] != 0

            // Flip the matched and unmatched edges along the path back to the virtual column.
            repeat {
                let previous = previousColumn[current]
                rowOfColumn[current] = rowOfColumn[previous]
                current = previous
            } while current != 0
        }

        var match = [Int](repeating: -1, count: m)
        for j in 1...m where rowOfColumn[j] != 0 {
            match[j - 1] = rowOfColumn[j] - 1
        }
        return match
    }
}
