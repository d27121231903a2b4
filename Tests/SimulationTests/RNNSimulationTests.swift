import XCTest
import LinearAlgebra
@testable import Simulation
import FixedPoints

final class RNNSimulationTests: XCTestCase {
    func testShapesAndClipPresentOnlyForClippedReLU() throws {
        let relu = try RNNSimulation(units: 30, rank: 3).generate()
        XCTAssertEqual([relu.A.rows, relu.A.columns, relu.M.rows, relu.M.columns, relu.N.rows, relu.N.columns],
                       [3, 3, 30, 3, 3, 30])
        XCTAssertEqual(relu.b.count, 30)
        XCTAssertEqual(relu.c.count, 3)
        XCTAssertNil(relu.clip)
        XCTAssertEqual(relu.activation, .relu)
        XCTAssertEqual(relu.A, Matrix([[0.9, 0, 0], [0, 0.9, 0], [0, 0, 0.9]]))
        let clipped = try RNNSimulation(units: 30, rank: 3, activation: .clippedRelu).generate()
        XCTAssertEqual(clipped.clip, Array(repeating: 1, count: 30))
        XCTAssertEqual(Activation(rawValue: "clipped-relu"), .clippedRelu)
    }

    func testStepMatchesTheFormulaByHand() {
        // n = 2, R = 1: z' = 0.5 z + [1, −2]·φ([2, −1] z + [0.5, 1.5]) + 0.25.
        let model = LowRankRNN(A: Matrix([[0.5]]), M: Matrix([[2], [-1]]), N: Matrix([[1, -2]]), b: [0.5, 1.5],
                               c: [0.25], clip: nil, activation: .relu)
        // z = 1: pre-activations [2.5, 0.5] → both active: 0.5 + 2.5 − 1 + 0.25 = 2.25.
        XCTAssertEqual(model.activity([1]), [2.5, 0.5])
        XCTAssertEqual(model.step([1]), [2.25])
        // z = 2: pre-activations [4.5, −0.5] → second off: 1 + 4.5 + 0.25 = 5.75.
        XCTAssertEqual(model.step([2]), [5.75])
        var clipped = model
        clipped.activation = .clippedRelu
        clipped.clip = [3, 0.25]
        // z = 1: φ = [min(2.5, 3), min(0.5, 0.25)] = [2.5, 0.25] → 0.5 + 2.5 − 0.5 + 0.25 = 2.75.
        XCTAssertEqual(clipped.activity([1]), [2.5, 0.25])
        XCTAssertEqual(clipped.step([1]), [2.75])
        clipped.clip = nil  // θ defaults to 1
        XCTAssertEqual(clipped.activity([1]), [1, 0.5])
    }

    /// Enumerates the activation regions of a rank-2 network exactly (every region is adjacent to a crossing of two
    /// boundary lines, or is unbounded) and solves the affine fixed-point equation in each.
    private func fixedPoints(_ model: LowRankRNN) -> [(z: [Double], stable: Bool)] {
        precondition(model.rank == 2)
        let n = model.units
        var lines: [(m: [Double], offset: Double)] = []
        for i in 0..<n {
            lines.append(([model.M[i, 0], model.M[i, 1]], model.b[i]))
            if model.activation == .clippedRelu { lines.append(([model.M[i, 0], model.M[i, 1]], model.b[i] - (model.clip?[i] ?? 1))) }
        }
        func pattern(_ z: [Double]) -> [Int] {
            (0..<n).map { i in
                let x = model.M[i, 0] * z[0] + model.M[i, 1] * z[1] + model.b[i]
                if x <= 0 { return 0 }
                if model.activation == .clippedRelu && x >= (model.clip?[i] ?? 1) { return 2 }
                return 1
            }
        }
        var probes: [[Double]] = []
        for a in 0..<lines.count {
            for b in (a + 1)..<lines.count {
                let (p, q) = (lines[a], lines[b])
                let det = p.m[0] * q.m[1] - p.m[1] * q.m[0]
                guard abs(det) > 1e-12 else { continue }
                let x = (-p.offset * q.m[1] + q.offset * p.m[1]) / det
                let y = (-q.offset * p.m[0] + p.offset * q.m[0]) / det
                for (dx, dy) in [(1.0, 1.37), (1, -1.37), (-1, 1.37), (-1, -1.37)] {
                    probes.append([x + 1e-7 * dx, y + 1e-7 * dy])
                }
            }
        }
        for k in 0..<360 { probes.append([1e6 * cos(Double(k) * .pi / 180), 1e6 * sin(Double(k) * .pi / 180)]) }
        var seen = Set<[Int]>()
        var found: [(z: [Double], stable: Bool)] = []
        for probe in probes {
            let d = pattern(probe)
            guard seen.insert(d).inserted else { continue }
            // In this region φ(x) = slopeᵢ·x + constᵢ, so z = a z + N(S(Mz + b) + k) + c is a 2 × 2 linear system.
            var L = [[1 - model.A[0, 0], -model.A[0, 1]], [-model.A[1, 0], 1 - model.A[1, 1]]]
            var rhs = model.c
            for i in 0..<n where d[i] != 0 {
                let slope = d[i] == 1 ? 1.0 : 0.0
                let constant = d[i] == 1 ? model.b[i] : (model.clip?[i] ?? 1)
                for r in 0..<2 {
                    for s in 0..<2 { L[r][s] -= model.N[r, i] * slope * model.M[i, s] }
                    rhs[r] += model.N[r, i] * constant
                }
            }
            let det = L[0][0] * L[1][1] - L[0][1] * L[1][0]
            guard abs(det) > 1e-12 else { continue }
            let z = [(rhs[0] * L[1][1] - L[0][1] * rhs[1]) / det, (L[0][0] * rhs[1] - L[1][0] * rhs[0]) / det]
            guard pattern(z) == d else { continue }
            XCTAssertLessThan(maxAbsDifference(model.step(z), z), 1e-9, "not a fixed point of step()")
            var J = model.A
            for i in 0..<n where d[i] == 1 {
                for r in 0..<2 { for s in 0..<2 { J[r, s] += model.N[r, i] * model.M[i, s] } }
            }
            let trace = J[0, 0] + J[1, 1], detJ = J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0]
            let discriminant = trace * trace / 4 - detJ
            let spectralRadius = discriminant >= 0
                ? max(abs(trace / 2 + discriminant.squareRoot()), abs(trace / 2 - discriminant.squareRoot()))
                : detJ.squareRoot()
            found.append((z, spectralRadius < 1))
        }
        return found
    }

    func testDefaultNetworksHaveSeveralFixedPointsOfMixedStability() throws {
        for activation in Activation.allCases where activation.isPiecewiseLinear {
            let points = fixedPoints(try RNNSimulation(activation: activation).generate())
            XCTAssertGreaterThanOrEqual(points.count, 3, "\(activation)")
            XCTAssert(points.contains { $0.stable }, "\(activation): no stable fixed point")
            XCTAssert(points.contains { !$0.stable }, "\(activation): no unstable fixed point")
        }
    }

    func testReLUTrajectoriesStayBounded() throws {
        let model = try RNNSimulation(units: 100, rank: 3, seed: 2).generate()
        var z = [5.0, -5.0, 5.0]
        for _ in 0..<3000 { z = model.step(z) }
        XCTAssert(z.allSatisfy { $0.isFinite && abs($0) < 100 }, "\(z)")
    }

    func testSameSeedGivesIdenticalModelsAndOtherSeedsDiffer() throws {
        let a = try RNNSimulation(seed: 1).generate(), b = try RNNSimulation(seed: 1).generate()
        let c = try RNNSimulation(seed: 2).generate()
        XCTAssertEqual(a.M, b.M)
        XCTAssertEqual(a.N, b.N)
        XCTAssertEqual(a.b, b.b)
        XCTAssertEqual(a.c, b.c)
        XCTAssertNotEqual(a.M, c.M)
    }

    func testInvalidParametersAreRejectedNamingTheFlag() {
        assertRejects("--units") { _ = try RNNSimulation(units: 0).generate() }
        assertRejects("--rank") { _ = try RNNSimulation(units: 5, rank: 6).generate() }
        assertRejects("--rank") { _ = try RNNSimulation(rank: 0).generate() }
        assertRejects("--decay") { _ = try RNNSimulation(decay: 1).generate() }
        assertRejects("--decay") { _ = try RNNSimulation(decay: -0.1).generate() }
    }
}
