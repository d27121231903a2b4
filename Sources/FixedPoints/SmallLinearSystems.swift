import CKernels

/// Dense solves of the R × R systems (R = 1…6) that the arrangement walk makes millions of times.
/// LAPACK's call overhead dwarfs a 3 × 3 elimination, so these are done inline; the size is tiny and fixed.
enum SmallLinearSystem {
    /// Solves a x = b in place (a is n × n row-major, destroyed; b becomes x): Cramer's rule up to 3 × 3 (singular
    /// when |det| < `relativeTolerance` × Hadamard's bound), Gaussian elimination with partial pivoting above
    /// (singular when a pivot is below `relativeTolerance` × the largest entry).
    @inline(__always)
    static func solve(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, _ n: Int,
                      relativeTolerance: Double = 1e-12) -> Bool {
        // The same Cramer solve the compiled line walk inlines (CKernels).
        if n <= 3 { return nfx_solve_small(a, b, Int32(n), relativeTolerance) != 0 }
        return eliminate(a, b, n, relativeTolerance)
    }

    private static func eliminate(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, _ n: Int,
                                  _ relativeTolerance: Double) -> Bool {
        var scale = 0.0
        for i in 0..<n * n { scale = max(scale, abs(a[i])) }
        guard scale > 0 else { return false }
        let tolerance = relativeTolerance * scale
        for column in 0..<n {
            var pivot = column
            var best = abs(a[column * n + column])
            for row in column + 1..<n where abs(a[row * n + column]) > best {
                best = abs(a[row * n + column])
                pivot = row
            }
            guard best > tolerance else { return false }
            if pivot != column {
                for k in 0..<n { swapAt(a, pivot * n + k, column * n + k) }
                swapAt(b, pivot, column)
            }
            let diagonal = a[column * n + column]
            for row in column + 1..<n {
                let factor = a[row * n + column] / diagonal
                if factor == 0 { continue }
                for k in column..<n { a[row * n + k] -= factor * a[column * n + k] }
                b[row] -= factor * b[column]
            }
        }
        for row in stride(from: n - 1, through: 0, by: -1) {
            var sum = b[row]
            for k in row + 1..<n { sum -= a[row * n + k] * b[k] }
            b[row] = sum / a[row * n + row]
        }
        return true
    }

    @inline(__always)
    private static func swapAt(_ p: UnsafeMutablePointer<Double>, _ i: Int, _ j: Int) {
        let t = p[i]
        p[i] = p[j]
        p[j] = t
    }
}
