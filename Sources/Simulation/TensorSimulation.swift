import Foundation
import LinearAlgebra
import NFXCore

/// A units × time × trials tensor with a planted non-negative CP (canonical polyadic) structure, the ground truth for
/// `nfx tca`.
///
/// `data[i,j,k] = max(0, Σ_r A[i,r]·B[j,r]·C[k,r] + σ·ε)` with σ = `noise` × std(clean tensor), clipped at zero so
/// non-negative CP applies; with `noise == 0` the data is exactly the CP sum. The factors follow the kind of
/// structure tensor component analysis is meant to find (Williams et al., "Unsupervised discovery of demixed,
/// low-dimensional neural dynamics across multiple timescales through tensor component analysis", Neuron 98, 2018):
/// sparse neuron ensembles (A), within-trial activity at distinct latencies (B), and across-trial trends such as
/// learning ramps, an abrupt change of state, or a slow oscillation (C).
public struct TensorSimulation: Sendable {
    public var units: Int
    public var time: Int
    public var trials: Int
    public var rank: Int
    /// Noise standard deviation as a fraction of the standard deviation of the clean tensor.
    public var noise: Double
    public var seed: UInt64

    public init(units: Int = 50, time: Int = 100, trials: Int = 30, rank: Int = 3, noise: Double = 0.1,
                seed: UInt64 = 0) {
        self.units = units
        self.time = time
        self.trials = trials
        self.rank = rank
        self.noise = noise
        self.seed = seed
    }

    public func validate() throws {
        try Check.atLeast(units, 1, "--units")
        try Check.atLeast(time, 1, "--time")
        try Check.atLeast(trials, 1, "--trials")
        guard rank >= 1 && rank <= units else {
            throw SimulationError.invalidOption(
                flag: "--rank",
                message: "--rank must be between 1 and --units = \(units), so that every component has a unit "
                    + "(got \(rank))")
        }
        try Check.nonNegative(noise, "--noise")
        try Check.size([units, time, trials], "--units × --time × --trials")
    }

    /// Each factor and the noise come from their own stream of the seed, so changing `noise` leaves the truth
    /// unchanged.
    public func generate() throws -> SimulatedTensor {
        try validate()
        let root = SeededGenerator(seed: seed)
        var unitStream = root.split(stream: 0)
        var timeStream = root.split(stream: 1)
        var trialStream = root.split(stream: 2)
        var noiseStream = root.split(stream: 3)
        let A = Components.sparseLoadings(count: units, rank: rank, using: &unitStream)
        let B = TensorSimulation.latencyBumps(time: time, rank: rank, using: &timeStream)
        let C = TensorSimulation.trialTrends(trials: trials, rank: rank, using: &trialStream)

        // Mode-0 unfolding: X₍₀₎ = A·(B ⊙ C)ᵀ, whose row-major layout is exactly the (unit, time, trial) tensor.
        var khatriRao = Matrix(rows: time * trials, columns: rank)
        for j in 0..<time {
            for k in 0..<trials {
                for r in 0..<rank { khatriRao[j * trials + k, r] = B[j, r] * C[k, r] }
            }
        }
        let clean = try Components.product(A, khatriRao, transposeB: true)
        let data = Components.addRelativeNoise(clean.elements, noise: noise, using: &noiseStream)
        return SimulatedTensor(data: NDArray(shape: [units, time, trials], elements: data), factors: [A, B, C])
    }

    /// Gaussian bumps of activity in the trial, one per component, at latencies spread evenly over the trial (in a
    /// shuffled order, with jitter) so that components are separable in time.
    static func latencyBumps(time: Int, rank: Int, using rng: inout SeededGenerator) -> Matrix {
        var slots = Array(0..<rank)
        rng.shuffle(&slots)
        var B = Matrix(rows: time, columns: rank)
        let baseWidth = max(1.0, Double(time) / Double(4 * rank))
        for r in 0..<rank {
            let latency = Double(time) * (Double(slots[r]) + rng.uniform(in: 0.3..<0.7)) / Double(rank)
            let width = baseWidth * rng.uniform(in: 0.6..<1.0)
            for j in 0..<time {
                let z = (Double(j) - latency) / width
                B[j, r] = exp(-0.5 * z * z)
            }
        }
        return B
    }

    /// Across-trial trends, cycling through a rising ramp, a falling ramp, a step (a change of behavioural state) and
    /// a slow oscillation, with random curvature, step position, period and phase. Every value is at least 0.2, so
    /// no component vanishes on any trial.
    static func trialTrends(trials: Int, rank: Int, using rng: inout SeededGenerator) -> Matrix {
        var C = Matrix(rows: trials, columns: rank)
        for r in 0..<rank {
            let curvature = rng.uniform(in: 0.5..<2.0)
            let stepAt = Double(trials) * rng.uniform(in: 0.3..<0.7)
            let stepUp = rng.uniform() < 0.5
            let period = rng.uniform(in: 4..<10)
            let phase = rng.uniform(in: 0..<(2 * Double.pi))
            for k in 0..<trials {
                let x = trials > 1 ? Double(k) / Double(trials - 1) : 0.5
                switch r % 4 {
                case 0: C[k, r] = 0.2 + 0.8 * pow(x, curvature)
                case 1: C[k, r] = 1.0 - 0.8 * pow(x, curvature)
                case 2: C[k, r] = (Double(k) < stepAt) == stepUp ? 0.2 : 1.0
                default: C[k, r] = 0.6 + 0.4 * sin(2 * Double.pi * Double(k) / period + phase)
                }
            }
        }
        return C
    }
}

/// The output of `TensorSimulation`: the noisy tensor and the planted factors.
public struct SimulatedTensor: Sendable {
    /// units × time × trials, row-major, non-negative.
    public var data: NDArray<Double>
    /// `[A, B, C]`: mode 0 (units × rank), mode 1 (time × rank), mode 2 (trials × rank).
    public var factors: [Matrix]

    public init(data: NDArray<Double>, factors: [Matrix]) {
        self.data = data
        self.factors = factors
    }
}
