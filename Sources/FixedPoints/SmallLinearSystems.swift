/// Dense solves of the R × R systems (R = 1…6) that the arrangement walk makes millions of times.
/// LAPACK's call overhead dwarfs a 3 × 3 elimination, so these are done inline; the size is tiny and fixed.
enum SmallLinearSystem {
    /// Solves a x = b in place (a is n × n row-major, destroyed; b becomes x) by Gaussian elimination with partial
    /// pivoting. Returns false when a pivot is below `relativeTolerance` × the largest entry (singular).
    @inline(__always)
    static func solve(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, _ n: Int,
                      relativeTolerance: Double = 1e-12) -> Bool {
        switch n {
        case 1:
            guard abs(a[0]) > 0 else { return false }
            b[0] /= a[0]
            return true
        case 2:
            return solve2(a, b, relativeTolerance)
        case 3:
            return solve3(a, b, relativeTolerance)
        default:
            return eliminate(a, b, n, relativeTolerance)
        }
    }

    /// Cramer's rule; singular when |det| is below tolerance × the product of the row norms (Hadamard's bound).
    @inline(__always)
    private static func solve2(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>,
                               _ relativeTolerance: Double) -> Bool {
        let det = a[0] * a[3] - a[1] * a[2]
        let boundSquared = (a[0] * a[0] + a[1] * a[1]) * (a[2] * a[2] + a[3] * a[3])
        guard det * det > relativeTolerance * relativeTolerance * boundSquared, boundSquared > 0 else { return false }
        let x0 = (b[0] * a[3] - a[1] * b[1]) / det
        let x1 = (a[0] * b[1] - b[0] * a[2]) / det
        b[0] = x0
        b[1] = x1
        return true
    }

    @inline(__always)
    private static func solve3(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>,
                               _ relativeTolerance: Double) -> Bool {
        let c00 = a[4] * a[8] - a[5] * a[7], c01 = a[5] * a[6] - a[3] * a[8], c02 = a[3] * a[7] - a[4] * a[6]
        let det = a[0] * c00 + a[1] * c01 + a[2] * c02
        let boundSquared = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) * (a[3] * a[3] + a[4] * a[4] + a[5] * a[5])
            * (a[6] * a[6] + a[7] * a[7] + a[8] * a[8])
        guard det * det > relativeTolerance * relativeTolerance * boundSquared, boundSquared > 0 else { return false }
        // x = adj(a) b / det, adj the transposed cofactor matrix.
        let c10 = a[2] * a[7] - a[1] * a[8], c11 = a[0] * a[8] - a[2] * a[6], c12 = a[1] * a[6] - a[0] * a[7]
        let c20 = a[1] * a[5] - a[2] * a[4], c21 = a[2] * a[3] - a[0] * a[5], c22 = a[0] * a[4] - a[1] * a[3]
        let x0 = (c00 * b[0] + c10 * b[1] + c20 * b[2]) / det
        let x1 = (c01 * b[0] + c11 * b[1] + c21 * b[2]) / det
        let x2 = (c02 * b[0] + c12 * b[1] + c22 * b[2]) / det
        b[0] = x0
        b[1] = x1
        b[2] = x2
        return true
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
