import LinearAlgebra

/// The unit nonlinearity φ.
public enum Activation: String, Sendable, CaseIterable {
    case relu
    /// φ_j(x) = relu(x) − relu(x − θ_j): linear between 0 and θ_j, flat outside.
    case clippedRelu = "clipped-relu"
    /// Smooth; only `--method search` handles it.
    case tanh

    public var isPiecewiseLinear: Bool { self != .tanh }
}

/// A low-rank RNN as a discrete-time map of its R latent dimensions (contract, "The low-rank RNN"):
/// `z' = A z + N φ(M z + b) + c`, with A R×R, M n×R, N R×n, b n, c R and, for clipped ReLU, thresholds θ (n).
/// Unit activity is `φ(M z + b)`; Pals et al. (NeurIPS 2024, smc_rnns) fit networks of this form to recordings.
public struct LowRankRNN: Sendable {
    public var A: Matrix
    public var M: Matrix
    public var N: Matrix
    public var b: [Double]
    public var c: [Double]
    /// θ for clipped ReLU; nil means θ = 1 for every unit.
    public var clip: [Double]?
    public var activation: Activation

    /// Assumes consistent shapes; use `init(validating:…)` for shapes that come from a file.
    public init(A: Matrix, M: Matrix, N: Matrix, b: [Double], c: [Double], clip: [Double]?, activation: Activation) {
        precondition(A.isSquare && M.columns == A.rows && N.rows == A.rows && N.columns == M.rows,
                     "LowRankRNN: A \(A.rows)×\(A.columns), M \(M.rows)×\(M.columns), N \(N.rows)×\(N.columns)")
        precondition(b.count == M.rows && c.count == A.rows && (clip?.count ?? M.rows) == M.rows,
                     "LowRankRNN: b, c or clip has the wrong length")
        self.A = A
        self.M = M
        self.N = N
        self.b = b
        self.c = c
        self.clip = clip
        self.activation = activation
    }

    /// Checks every shape against M (n × R) and names the first that disagrees.
    public init(validating A: Matrix, M: Matrix, N: Matrix, b: [Double], c: [Double], clip: [Double]?,
                activation: Activation) throws {
        let n = M.rows, R = M.columns
        func fail(_ what: String) -> FixedPointError { .inconsistentModel(what) }
        guard n >= 1, R >= 1 else { throw fail("M is \(n) × \(R); it needs at least one unit and one latent dimension") }
        guard A.rows == R, A.columns == R else { throw fail("A is \(A.rows) × \(A.columns) but M is \(n) × \(R): A must be \(R) × \(R)") }
        guard N.rows == R, N.columns == n else { throw fail("N is \(N.rows) × \(N.columns) but M is \(n) × \(R): N must be \(R) × \(n)") }
        guard b.count == n else { throw fail("b has \(b.count) entries for \(n) units") }
        guard c.count == R else { throw fail("c has \(c.count) entries for rank \(R)") }
        if let clip {
            guard clip.count == n else { throw fail("clip has \(clip.count) entries for \(n) units") }
            guard clip.allSatisfy({ $0 > 0 }) else { throw fail("clip thresholds must be positive") }
        }
        let values = A.elements + M.elements + N.elements + b + c + (clip ?? [])
        guard values.allSatisfy(\.isFinite) else { throw fail("the model has NaN or infinite parameters") }
        self.init(A: A, M: M, N: N, b: b, c: c, clip: clip, activation: activation)
    }

    public var units: Int { M.rows }
    public var rank: Int { A.rows }

    public func threshold(_ unit: Int) -> Double { clip?[unit] ?? 1 }

    /// The input of every unit, M z + b.
    public func input(_ z: [Double]) -> [Double] {
        var x = b
        for i in 0..<units {
            var sum = x[i]
            for r in 0..<rank { sum += M[i, r] * z[r] }
            x[i] = sum
        }
        return x
    }

    /// Unit activity φ(M z + b).
    public func activity(_ z: [Double]) -> [Double] {
        input(z).enumerated().map { unit, x in phi(x, unit: unit) }
    }

    func phi(_ x: Double, unit: Int) -> Double {
        switch activation {
        case .relu: return max(0, x)
        case .clippedRelu: return max(0, x) - max(0, x - threshold(unit))
        case .tanh: return Foundation.tanh(x)
        }
    }

    /// φ'(x), taking φ'(0) = 0 for ReLU and 0 at θ for clipped ReLU (the left/right choice only matters for a
    /// fixed point exactly on a switching boundary, which the results flag).
    func phiDerivative(_ x: Double, unit: Int) -> Double {
        switch activation {
        case .relu: return x > 0 ? 1 : 0
        case .clippedRelu: return x > 0 && x < threshold(unit) ? 1 : 0
        case .tanh:
            let t = Foundation.tanh(x)
            return 1 - t * t
        }
    }

    /// F(z) = A z + N φ(M z + b) + c.
    public func step(_ z: [Double]) -> [Double] {
        let phi = activity(z)
        var next = c
        for r in 0..<rank {
            var sum = next[r]
            for s in 0..<rank { sum += A[r, s] * z[s] }
            for i in 0..<units { sum += N[r, i] * phi[i] }
            next[r] = sum
        }
        return next
    }

    /// The Jacobian of F at z: A + N diag(φ'(M z + b)) M.
    public func jacobian(_ z: [Double]) -> Matrix {
        let slopes = input(z).enumerated().map { unit, x in phiDerivative(x, unit: unit) }
        var J = A
        for r in 0..<rank {
            for s in 0..<rank {
                var sum = 0.0
                for i in 0..<units where slopes[i] != 0 { sum += N[r, i] * slopes[i] * M[i, s] }
                J[r, s] += sum
            }
        }
        return J
    }

    /// The smallest |distance| of a unit's input from one of its switching points (0, and θ for clipped ReLU),
    /// in input units: near 0 means the point sits on a boundary between linear regions.
    public func boundaryMargin(_ z: [Double]) -> Double {
        guard activation.isPiecewiseLinear else { return .infinity }
        var margin = Double.infinity
        for (unit, x) in input(z).enumerated() {
            margin = min(margin, abs(x))
            if activation == .clippedRelu { margin = min(margin, abs(x - threshold(unit))) }
        }
        return margin
    }
}

import Foundation
