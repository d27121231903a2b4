import Foundation
import LinearAlgebra
import NFXCore
import FixedPoints

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
