import Foundation
import LinearAlgebra
import NFXCore

/// The unit nonlinearity φ of a low-rank RNN.
public enum Activation: String, Sendable, CaseIterable {
    /// φ(x) = max(0, x).
    case relu
    /// φ_j(x) = relu(x) − relu(x − θ_j): linear between 0 and θ_j, flat above.
    case clippedRelu = "clipped-relu"
}

/// A random low-rank RNN with several fixed points of mixed stability, the ground truth for `nfx fixedpoints`.
///
/// The latent map is `z' = A·z + N·φ(M·z + b) + c` in R dimensions with n units, `A = decay·I` (the contract's form;
/// Valente, Pillow & Ostojic, "Extracting computational mechanisms from neural data using low-rank RNNs", NeurIPS 2022,
/// and Pals et al., smc_rnns, 2024, use the same parametrisation). φ is piecewise linear, so the latent space is
/// tiled by regions with a fixed activation pattern in which the map is affine — which is what lets fixed points be
/// found exactly (Durstewitz, "A state space approach for piecewise-linear recurrent neural networks", PLoS Comput.
/// Biol. 13(6), 2017).
///
/// Construction: units come in excitatory/inhibitory pairs reading the same random direction mᵢ ~ N(0, I). The
/// excitatory unit has a low threshold (bᵢ = −|N(0, 0.5²)|) and feeds back `+g_E·(1−decay)·mᵢ/n`; its partner has a
/// high threshold (bᵢ = −1 − |N(0, 1)|) and feeds back `−g_I·(1−decay)·mᵢ/n`. Near the origin few units are active
/// and the decay wins (a stable state); further out the excitatory units switch on with a net loop gain of about
/// g_E/4 > 1 (unstable fixed points); further still the inhibitory partners switch on and the gain drops to about
/// (g_E − g_I)/4 < 0, so ReLU trajectories stay bounded and stable states appear at a finite distance. With
/// g_E = 10, g_I = 14 a two-dimensional network of 50 units typically has 3–9 fixed points, about half of them
/// stable. `c` is small (1 − decay)·N(0, 0.1²) noise that breaks the symmetry z → −z.
public struct RNNSimulation: Sendable {
    /// n.
    public var units: Int
    /// R.
    public var rank: Int
    public var activation: Activation
    /// a in A = a·I; the leak per step.
    public var decay: Double
    public var seed: UInt64

    static let excitatoryGain = 10.0
    static let inhibitoryGain = 14.0

    public init(units: Int = 50, rank: Int = 2, activation: Activation = .relu, decay: Double = 0.9,
                seed: UInt64 = 0) {
        self.units = units
        self.rank = rank
        self.activation = activation
        self.decay = decay
        self.seed = seed
    }

    public func validate() throws {
        try Check.atLeast(units, 1, "--units")
        guard rank >= 1 && rank <= units else {
            throw SimulationError.invalidOption(
                flag: "--rank", message: "--rank must be between 1 and --units = \(units) (got \(rank))")
        }
        guard decay.isFinite, decay >= 0, decay < 1 else {
            throw SimulationError.invalidOption(
                flag: "--decay",
                message: "--decay must be in [0, 1): the recurrent loop is scaled by 1 − decay (got \(decay))")
        }
        try Check.size([units, rank], "--units × --rank")
    }

    public func generate() throws -> LowRankRNN {
        try validate()
        var rng = SeededGenerator(seed: seed)
        let n = units, R = rank
        let loopScale = (1 - decay) / Double(n)
        var M = Matrix(rows: n, columns: R)
        var N = Matrix(rows: R, columns: n)
        var b = [Double](repeating: 0, count: n)
        var unit = 0
        while unit < n {
            let direction = (0..<R).map { _ in rng.normal() }
            let paired = unit + 1 < n
            if paired {
                b[unit] = -abs(0.5 * rng.normal())
                for r in 0..<R {
                    M[unit, r] = direction[r]
                    N[r, unit] = RNNSimulation.excitatoryGain * loopScale * direction[r]
                }
                unit += 1
            }
            b[unit] = -1 - abs(rng.normal())
            for r in 0..<R {
                M[unit, r] = direction[r]
                N[r, unit] = -RNNSimulation.inhibitoryGain * loopScale * direction[r]
            }
            unit += 1
        }
        let c = (0..<R).map { _ in (1 - decay) * 0.1 * rng.normal() }
        var A = Matrix(rows: R, columns: R)
        for r in 0..<R { A[r, r] = decay }
        return LowRankRNN(A: A, M: M, N: N, b: b, c: c,
                          clip: activation == .clippedRelu ? Array(repeating: 1, count: n) : nil,
                          activation: activation)
    }
}

/// A low-rank RNN `z' = A·z + N·φ(M·z + b) + c`, as stored under `/rnn` (see the contract's "The low-rank RNN").
public struct LowRankRNN: Sendable {
    /// R × R.
    public var A: Matrix
    /// n × R: each unit's input weights from the latent space.
    public var M: Matrix
    /// R × n: each unit's contribution to the latent update.
    public var N: Matrix
    /// n.
    public var b: [Double]
    /// R.
    public var c: [Double]
    /// n thresholds θ of the clipped ReLU; nil for ReLU. A clipped-ReLU model without it uses θ = 1.
    public var clip: [Double]?
    public var activation: Activation

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

    /// n.
    public var units: Int { M.rows }
    /// R.
    public var rank: Int { A.rows }

    /// φ(M·z + b): each unit's activity at latent state z.
    public func activity(_ z: [Double]) -> [Double] {
        precondition(z.count == rank, "LowRankRNN.activity: z has \(z.count) entries, rank is \(rank)")
        var x = b
        for i in 0..<units {
            var sum = x[i]
            for r in 0..<rank { sum += M[i, r] * z[r] }
            switch activation {
            case .relu: x[i] = max(0, sum)
            case .clippedRelu:
                let theta = clip?[i] ?? 1
                x[i] = max(0, sum) - max(0, sum - theta)
            }
        }
        return x
    }

    /// One step of the map: A·z + N·φ(M·z + b) + c.
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
}
