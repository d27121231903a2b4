import LinearAlgebra
import NFXCore
@testable import FixedPoints

/// Small networks for the tests, built from a seed.
enum TestNetworks {
    enum Degeneracy { case none, zeroBias, repeatedRows }

    /// A random rank-R network with n units and a loop gain that gives several fixed points of mixed stability.
    static func random(units n: Int, rank R: Int, activation: Activation, degeneracy: Degeneracy = .none,
                       seed: UInt64) -> LowRankRNN {
        var generator = SeededGenerator(seed: seed)
        var M = Matrix(rows: n, columns: R)
        for i in 0..<n { for r in 0..<R { M[i, r] = generator.normal() } }
        if degeneracy == .repeatedRows && n >= 3 {
            for r in 0..<R { M[1, r] = M[0, r]; M[n - 1, r] = -M[0, r] }
        }
        var N = Matrix(rows: R, columns: n)
        let gain = 3.0 / Double(n)
        for r in 0..<R { for i in 0..<n { N[r, i] = gain * (0.6 * M[i, r] + generator.normal()) } }
        let b = (0..<n).map { _ in degeneracy == .zeroBias ? 0 : generator.normal() }
        let c = (0..<R).map { _ in degeneracy == .zeroBias ? 0 : 0.1 * generator.normal() }
        var A = Matrix(rows: R, columns: R)
        for r in 0..<R { A[r, r] = 0.5 }
        let clip = activation == .clippedRelu ? (0..<n).map { _ in 0.5 + generator.uniform() } : nil
        return LowRankRNN(A: A, M: M, N: N, b: b, c: c, clip: clip, activation: activation)
    }

    /// Two independent copies of z' = z/2 + 2 relu(z − 1) + 1/4: fixed points at 1/2 (stable) and 7/6 (unstable)
    /// on each axis, so four in the plane.
    static var handBuilt: LowRankRNN {
        LowRankRNN(A: Matrix([[0.5, 0], [0, 0.5]]), M: Matrix([[1, 0], [0, 1]]), N: Matrix([[2, 0], [0, 2]]),
                   b: [-1, -1], c: [0.25, 0.25], clip: nil, activation: .relu)
    }

    /// Units reading equally spaced directions on the circle and feeding back along them, saturating: a
    /// discretised ring attractor with one stable point per group of active units.
    static func ring(units n: Int) -> LowRankRNN {
        var M = Matrix(rows: n, columns: 2), N = Matrix(rows: 2, columns: n)
        for j in 0..<n {
            let angle = 2 * Double.pi * (Double(j) + 0.25) / Double(n)
            M[j, 0] = cos(angle)
            M[j, 1] = sin(angle)
            N[0, j] = 2.4 / Double(n) * cos(angle)
            N[1, j] = 2.4 / Double(n) * sin(angle)
        }
        return LowRankRNN(A: Matrix([[0.5, 0], [0, 0.5]]), M: M, N: N, b: Array(repeating: 0.5, count: n),
                          c: [0.01, 0.005], clip: Array(repeating: 1, count: n), activation: .clippedRelu)
    }
}

import Foundation
