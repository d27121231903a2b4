import Foundation
import LinearAlgebra
import NFXCore

/// Calcium-imaging fluorescence from Poisson spike trains through an autoregressive calcium model, the ground truth for
/// `nfx deconvolve`.
///
/// The model is the one OASIS inverts (Friedrich, Zhou & Paninski, "Fast online deconvolution of calcium imaging
/// data", PLoS Computational Biology 13(3), 2017): `y_t = b + c_t + σ·ε_t` with
/// - AR(1): `c_t = g·c_{t−1} + s_t`, `g = exp(−1/(τ_decay·f))`;
/// - AR(2): `c_t = g₁·c_{t−1} + g₂·c_{t−2} + s_t`, `g₁ = d + r`, `g₂ = −d·r`, `d = exp(−1/(τ_decay·f))`,
///   `r = exp(−1/(τ_rise·f))`, i.e. a difference of exponentials rising with τ_rise and decaying with τ_decay;
///
/// where `s_t` is the spike count in frame t, Poisson with mean `firingRate / frameRate`, and f the frame rate.
/// The default decay time, 0.68 s, is GCaMP6s-like (Chen et al., Nature 499, 2013).
public struct CalciumSimulation: Sendable {
    public var neurons: Int
    public var frames: Int
    /// Hz.
    public var frameRate: Double
    /// Mean spikes per second per neuron.
    public var firingRate: Double
    /// 1 or 2.
    public var arOrder: Int
    /// Seconds.
    public var decayTime: Double
    /// Seconds; used by AR(2) only.
    public var riseTime: Double
    /// σ of the additive Gaussian noise, in the units of c (a spike adds 1 to c).
    public var noise: Double
    public var baseline: Double
    public var seed: UInt64

    public init(neurons: Int = 20, frames: Int = 3000, frameRate: Double = 30, firingRate: Double = 1.0,
                arOrder: Int = 1, decayTime: Double = 0.68, riseTime: Double = 0.1, noise: Double = 0.3,
                baseline: Double = 0.0, seed: UInt64 = 0) {
        self.neurons = neurons
        self.frames = frames
        self.frameRate = frameRate
        self.firingRate = firingRate
        self.arOrder = arOrder
        self.decayTime = decayTime
        self.riseTime = riseTime
        self.noise = noise
        self.baseline = baseline
        self.seed = seed
    }

    public func validate() throws {
        try Check.atLeast(neurons, 1, "--neurons")
        try Check.atLeast(frames, 1, "--frames")
        try Check.positive(frameRate, "--frame-rate")
        try Check.nonNegative(firingRate, "--firing-rate")
        guard firingRate / frameRate <= 100 else {
            throw SimulationError.invalidOption(
                flag: "--firing-rate",
                message: "--firing-rate must be at most 100 spikes per frame (100 × --frame-rate = "
                    + "\(100 * frameRate) Hz; got \(firingRate))")
        }
        guard arOrder == 1 || arOrder == 2 else {
            throw SimulationError.invalidOption(flag: "--ar-order", message: "--ar-order must be 1 or 2 (got \(arOrder))")
        }
        try Check.positive(decayTime, "--tau")
        if arOrder == 2 {
            try Check.positive(riseTime, "--tau")
            guard riseTime < decayTime else {
                throw SimulationError.invalidOption(
                    flag: "--tau",
                    message: "--tau: the rise time (\(riseTime) s) must be shorter than the decay time "
                        + "(\(decayTime) s) for --ar-order 2")
            }
        }
        try Check.nonNegative(noise, "--noise")
        try Check.finite(baseline, "--baseline")
        try Check.size([neurons, frames], "--neurons × --frames")
    }

    /// The AR coefficients: `[g]` for AR(1), `[g₁, g₂]` for AR(2).
    public var coefficients: [Double] {
        let d = exp(-1 / (decayTime * frameRate))
        guard arOrder == 2 else { return [d] }
        let r = exp(-1 / (riseTime * frameRate))
        return [d + r, -d * r]
    }

    /// Neuron i draws from its own stream `split(stream: i)` — spikes first, then noise — so its trace does not
    /// depend on how many neurons are simulated, and its spikes do not depend on `noise`.
    public func generate() throws -> SimulatedCalcium {
        try validate()
        let root = SeededGenerator(seed: seed)
        let g = coefficients
        let g1 = g[0], g2 = g.count > 1 ? g[1] : 0
        let spikeMean = firingRate / frameRate
        var spikes = Matrix(rows: neurons, columns: frames)
        var calcium = Matrix(rows: neurons, columns: frames)
        var fluorescence = Matrix(rows: neurons, columns: frames)
        for neuron in 0..<neurons {
            var rng = root.split(stream: UInt64(neuron))
            let offset = neuron * frames
            var previous = 0.0, beforePrevious = 0.0
            for t in 0..<frames {
                let s = Double(rng.poisson(mean: spikeMean))
                let c = g1 * previous + g2 * beforePrevious + s
                spikes.elements[offset + t] = s
                calcium.elements[offset + t] = c
                beforePrevious = previous
                previous = c
            }
            for t in 0..<frames {
                let epsilon = noise > 0 ? noise * rng.normal() : 0
                fluorescence.elements[offset + t] = baseline + calcium.elements[offset + t] + epsilon
            }
        }
        return SimulatedCalcium(
            fluorescence: fluorescence, spikes: spikes, calcium: calcium,
            g: Matrix(rows: neurons, columns: g.count, elements: (0..<neurons).flatMap { _ in g }),
            baseline: Array(repeating: baseline, count: neurons), sigma: Array(repeating: noise, count: neurons),
            frameRate: frameRate)
    }
}

/// The output of `CalciumSimulation`.
public struct SimulatedCalcium: Sendable {
    /// neurons × frames: `baseline + calcium + σ·ε`.
    public var fluorescence: Matrix
    /// neurons × frames spike counts per frame.
    public var spikes: Matrix
    /// neurons × frames noise-free calcium c.
    public var calcium: Matrix
    /// neurons × p AR coefficients (p = 1 or 2), OASIS's convention.
    public var g: Matrix
    public var baseline: [Double]
    public var sigma: [Double]
    /// Hz.
    public var frameRate: Double

    public init(fluorescence: Matrix, spikes: Matrix, calcium: Matrix, g: Matrix, baseline: [Double],
                sigma: [Double], frameRate: Double) {
        self.fluorescence = fluorescence
        self.spikes = spikes
        self.calcium = calcium
        self.g = g
        self.baseline = baseline
        self.sigma = sigma
        self.frameRate = frameRate
    }
}
