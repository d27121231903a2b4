import Foundation
import LinearAlgebra

/// How a fixed point of the discrete-time map behaves, from the moduli of its Jacobian's eigenvalues.
public enum Stability: Sendable, Equatable, CustomStringConvertible {
    /// Every eigenvalue inside the unit circle.
    case stable
    /// Some inside, `unstableDirections` outside.
    case saddle(unstableDirections: Int)
    /// Every eigenvalue outside the unit circle.
    case unstable
    /// An eigenvalue on the unit circle (within 1e-9): linearisation cannot decide.
    case marginal

    public var description: String {
        switch self {
        case .stable: return "stable"
        case .saddle(let k): return "saddle (\(k) unstable)"
        case .unstable: return "unstable"
        case .marginal: return "marginal"
        }
    }

    static func classify(moduli: [Double], tolerance: Double = 1e-9) -> Stability {
        if moduli.contains(where: { abs($0 - 1) <= tolerance }) { return .marginal }
        let outside = moduli.filter { $0 > 1 }.count
        if outside == 0 { return .stable }
        if outside == moduli.count { return .unstable }
        return .saddle(unstableDirections: outside)
    }
}

public struct FixedPoint: Sendable {
    public let latent: [Double]
    /// φ(M z + b), one value per unit.
    public let activity: [Double]
    public let eigenvaluesReal: [Double]
    public let eigenvaluesImaginary: [Double]
    public let stability: Stability
    /// Eigenvalues outside the unit circle (0 stable, R unstable); −1 when marginal.
    public let unstableDirections: Int
    /// The smallest distance of a unit's input from a switching point; ≈ 0 means the point sits on a boundary
    /// between linear regions, where the Jacobian takes φ'(0) = 0.
    public let boundaryMargin: Double

    public var onBoundary: Bool { boundaryMargin < 1e-9 }
}

public enum FixedPointMethod: String, Sendable, CaseIterable {
    case analytic, brute, search
}

public struct FixedPointResult: Sendable {
    public let method: FixedPointMethod
    public let points: [FixedPoint]
    /// Regions (analytic), activation patterns (brute) or Newton solves (search) examined.
    public let regionsSearched: Int
    /// Σ_{k≤R} C(H, k) for H switching hyperplanes: the most regions the arrangement can have.
    public let regionBound: Double
    /// Regions whose affine map has a singular I − J: no isolated fixed point there (a line of them, or none).
    public let singularRegions: Int
}

/// Σ_{k=0}^{R} C(H, k), Zaslavsky's count of regions of H hyperplanes in general position in R dimensions.
public func regionBound(hyperplanes: Int, rank: Int) -> Double {
    var total = 0.0, binomial = 1.0
    for k in 0...max(0, min(rank, hyperplanes)) {
        if k > 0 { binomial = binomial * Double(hyperplanes - k + 1) / Double(k) }
        total += binomial
    }
    return total
}

/// The number of switching hyperplanes: one per unit, two for clipped ReLU.
public func hyperplaneCount(_ model: LowRankRNN) -> Int {
    model.activation == .clippedRelu ? 2 * model.units : model.units
}

extension LowRankRNN {
    /// ‖F(z) − z‖ relative to the size of z: how exactly z is a fixed point of this model.
    public func fixedPointResidual(_ z: [Double]) -> Double {
        let next = step(z)
        var residual = 0.0, size = 1.0
        for r in 0..<rank {
            residual = max(residual, abs(next[r] - z[r]))
            size = max(size, abs(z[r]))
        }
        return residual / size
    }
}

/// Merges candidates closer than `tolerance` (relative), verifies each against the exact model, computes its
/// Jacobian spectrum and class, and sorts: stable first, then saddles, unstable, marginal; then by coordinates.
func finalize(_ candidates: [[Double]], model: LowRankRNN, tolerance: Double = 1e-7) -> [FixedPoint] {
    let sorted = candidates.filter { model.fixedPointResidual($0) <= 1e-8 }
        .sorted { $0.lexicographicallyPrecedes($1) }
    var unique: [[Double]] = []
    for z in sorted {
        let size = 1 + z.map(abs).max()!
        if !unique.contains(where: { other in zip(other, z).allSatisfy { abs($0 - $1) <= tolerance * size } }) {
            unique.append(z)
        }
    }
    let points = unique.map { z -> FixedPoint in
        let J = model.jacobian(z)
        let (real, imaginary) = (try? eigenvalues(J)) ?? (Array(repeating: .nan, count: model.rank),
                                                          Array(repeating: .nan, count: model.rank))
        let moduli = zip(real, imaginary).map { ($0 * $0 + $1 * $1).squareRoot() }
        let stability = Stability.classify(moduli: moduli)
        return FixedPoint(latent: z, activity: model.activity(z), eigenvaluesReal: real,
                          eigenvaluesImaginary: imaginary, stability: stability,
                          unstableDirections: stability == .marginal ? -1 : moduli.filter { $0 > 1 }.count,
                          boundaryMargin: model.boundaryMargin(z))
    }
    func order(_ s: Stability) -> Int {
        switch s {
        case .stable: return 0
        case .saddle(let k): return k
        case .unstable: return 1000
        case .marginal: return 1001
        }
    }
    return points.sorted {
        order($0.stability) != order($1.stability) ? order($0.stability) < order($1.stability)
            : $0.latent.lexicographicallyPrecedes($1.latent)
    }
}
