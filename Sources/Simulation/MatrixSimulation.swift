import Foundation
import LinearAlgebra
import NFXCore

/// A units × time matrix with planted non-negative low-rank structure, the ground truth for `nfx factorize`.
///
/// `data = max(0, W·H + σ·ε)`: W (units × rank) holds sparse ensemble memberships, H (rank × time) smooth
/// non-negative ensemble activity made of Gaussian bumps, ε is standard normal and σ = `noise` × std(W·H). The clip at
/// zero keeps the data non-negative, as NMF requires; with `noise == 0` the data is exactly W·H.
public struct MatrixSimulation: Sendable {
    public var units: Int
    public var time: Int
    public var rank: Int
    /// Noise standard deviation as a fraction of the standard deviation of the clean product W·H.
    public var noise: Double
    public var seed: UInt64

    public init(units: Int = 100, time: Int = 500, rank: Int = 5, noise: Double = 0.1, seed: UInt64 = 0) {
        self.units = units
        self.time = time
        self.rank = rank
        self.noise = noise
        self.seed = seed
    }

    public func validate() throws {
        try Check.atLeast(units, 1, "--units")
        try Check.atLeast(time, 1, "--time")
        guard rank >= 1 && rank <= min(units, time) else {
            throw SimulationError.invalidOption(
                flag: "--rank",
                message: "--rank must be between 1 and min(--units, --time) = \(min(units, time)) (got \(rank))")
        }
        try Check.nonNegative(noise, "--noise")
        try Check.size([units, time], "--units × --time")
    }

    /// W, H and the noise come from separate streams of the seed, so changing `noise` leaves the truth unchanged.
    public func generate() throws -> SimulatedMatrix {
        try validate()
        let root = SeededGenerator(seed: seed)
        var loadingStream = root.split(stream: 0)
        var activityStream = root.split(stream: 1)
        var noiseStream = root.split(stream: 2)
        let W = Components.sparseLoadings(count: units, rank: rank, using: &loadingStream)
        let H = MatrixSimulation.bumpActivity(rank: rank, time: time, using: &activityStream)
        let clean = try Components.product(W, H)
        let data = Components.addRelativeNoise(clean.elements, noise: noise, using: &noiseStream)
        return SimulatedMatrix(data: Matrix(rows: units, columns: time, elements: data), W: W, H: H)
    }

    /// Each ensemble's activity is a sum of Gaussian bumps (transient co-activations) at Poisson-distributed
    /// times, about one bump per four widths, with widths of ~1 % of the recording and at least one bump per ensemble,
    /// so that no row of H is zero. Between bumps H decays to (numerically) zero, the sparsity NMF recovers best.
    static func bumpActivity(rank: Int, time: Int, using rng: inout SeededGenerator) -> Matrix {
        var H = Matrix(rows: rank, columns: time)
        let width = max(1.0, Double(time) / 100)
        for component in 0..<rank {
            let events = max(1, rng.poisson(mean: Double(time) / (4 * width)))
            for _ in 0..<events {
                let center = rng.uniform(in: 0..<Double(time))
                let eventWidth = width * rng.uniform(in: 0.7..<1.3)
                let amplitude = 0.5 + rng.exponential()
                let first = max(0, Int((center - 5 * eventWidth).rounded(.down)))
                let last = min(time - 1, Int((center + 5 * eventWidth).rounded(.up)))
                guard first <= last else { continue }
                for t in first...last {
                    let z = (Double(t) - center) / eventWidth
                    H[component, t] += amplitude * exp(-0.5 * z * z)
                }
            }
        }
        return H
    }
}

/// The output of `MatrixSimulation`: the noisy data and the planted factors.
public struct SimulatedMatrix: Sendable {
    /// units × time, non-negative.
    public var data: Matrix
    /// units × rank ensemble loadings.
    public var W: Matrix
    /// rank × time ensemble activity.
    public var H: Matrix

    public init(data: Matrix, W: Matrix, H: Matrix) {
        self.data = data
        self.W = W
        self.H = H
    }
}
