import CKernels
import Foundation
import XCTest
import HDF5Kit
import LinearAlgebra
import NFXCore
@testable import FixedPoints

final class AnalyticFixedPointsTests: XCTestCase {
    /// Same set of points, matched one to one within `tolerance`.
    private func assertSameSet(_ a: [FixedPoint], _ b: [FixedPoint], tolerance: Double = 1e-9,
                               _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(message): \(a.map(\.latent)) vs \(b.map(\.latent))", file: file, line: line)
        for point in a {
            XCTAssertTrue(b.contains { other in zip(other.latent, point.latent).allSatisfy { abs($0 - $1) <= tolerance } },
                          "\(message): \(point.latent) missing from the other set", file: file, line: line)
        }
    }

    func testHandBuiltNetworkHasItsFourKnownFixedPoints() throws {
        let result = try analyticFixedPoints(TestNetworks.handBuilt)
        XCTAssertEqual(result.points.count, 4)
        let expected: [([Double], Stability)] = [([0.5, 0.5], .stable), ([0.5, 7.0 / 6], .saddle(unstableDirections: 1)),
                                                 ([7.0 / 6, 0.5], .saddle(unstableDirections: 1)),
                                                 ([7.0 / 6, 7.0 / 6], .unstable)]
        for (latent, stability) in expected {
            let point = try XCTUnwrap(result.points.first { zip($0.latent, latent).allSatisfy { abs($0 - $1) < 1e-12 } },
                                      "\(latent) not found")
            XCTAssertEqual(point.stability, stability)
        }
        // Two axis-aligned hyperplanes: 1 + 2 + 1 = 4 regions.
        XCTAssertEqual(result.regionsSearched, 4)
    }

    func testAgreesWithBruteForceOnRandomNetworks() throws {
        var compared = 0, pointsSeen = 0
        for rank in 1...3 {
            for activation in [Activation.relu, .clippedRelu] {
                for degeneracy in [TestNetworks.Degeneracy.none, .zeroBias, .repeatedRows] {
                    for seed in UInt64(0)..<12 {
                        let units = activation == .relu ? 4 + Int(seed % 9) : 3 + Int(seed % 5)
                        guard units >= rank else { continue }
                        let model = TestNetworks.random(units: units, rank: rank, activation: activation,
                                                        degeneracy: degeneracy, seed: seed * 7919 + UInt64(rank))
                        // The C line walk's portable build on odd seeds, its AVX2/FMA build (where the CPU has it)
                        // on even ones.
                        nfx_use_portable_kernels(Int32(seed % 2))
                        defer { nfx_use_portable_kernels(0) }
                        let analytic = try analyticFixedPoints(model, options: AnalyticOptions(seed: seed))
                        let brute = try bruteForceFixedPoints(model)
                        assertSameSet(analytic.points, brute.points,
                                      "R=\(rank) \(activation) \(degeneracy) n=\(units) seed \(seed)")
                        compared += 1
                        pointsSeen += brute.points.count
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 200)
        XCTAssertGreaterThan(pointsSeen, compared, "the networks should have several fixed points on average")
    }

    /// The rank-2 and rank-3 lines walked in C (both builds: AVX2/FMA and portable) against the Swift walk of every
    /// other flat, on networks big enough for each of the C walk's paths: lines of more than 64, 256 and 2048
    /// crossings (the sort), more than 128 (the walk's chunks), groups of four regions with lanes left over, and
    /// degenerate arrangements.
    func testCompiledLineWalkAgreesWithTheSwiftWalk() throws {
        var cases: [(units: Int, rank: Int, activation: Activation, degeneracy: TestNetworks.Degeneracy)] = [
            (300, 2, .relu, .none), (2100, 2, .relu, .none), (90, 3, .relu, .none), (40, 3, .clippedRelu, .none),
            (30, 3, .relu, .zeroBias), (30, 3, .relu, .repeatedRows), (50, 2, .clippedRelu, .zeroBias),
        ]
        for units in 3...9 { cases.append((units, 2 + units % 2, .relu, .none)) }
        defer { nfx_use_portable_kernels(0) }
        for (index, example) in cases.enumerated() {
            let model = TestNetworks.random(units: example.units, rank: example.rank, activation: example.activation,
                                            degeneracy: example.degeneracy, seed: UInt64(100 + index))
            var swiftOptions = AnalyticOptions(seed: UInt64(index))
            swiftOptions.compiledLines = false
            let reference = try analyticFixedPoints(model, options: swiftOptions)
            for portable: Int32 in [0, 1] {
                nfx_use_portable_kernels(portable)
                let compiled = try analyticFixedPoints(model, options: AnalyticOptions(seed: UInt64(index)))
                let label = "n=\(example.units) R=\(example.rank) \(example.activation) \(example.degeneracy) portable \(portable)"
                XCTAssertEqual(compiled.regionsSearched, reference.regionsSearched, label)
                XCTAssertEqual(compiled.singularRegions, reference.singularRegions, label)
                assertSameSet(compiled.points, reference.points, label)
            }
        }
    }

    func testRegionCountIsZaslavskysForAGenericArrangement() throws {
        // 150 and 70 hyperplanes take the radix-sorted path of the line walk.
        for (units, rank) in [(9, 1), (12, 2), (10, 3), (150, 2), (70, 3)] {
            let model = TestNetworks.random(units: units, rank: rank, activation: .relu, seed: UInt64(units))
            let result = try analyticFixedPoints(model)
            XCTAssertEqual(Double(result.regionsSearched), regionBound(hyperplanes: units, rank: rank))
        }
        XCTAssertEqual(regionBound(hyperplanes: 1000, rank: 3), 166_667_501)
        XCTAssertEqual(regionBound(hyperplanes: 2, rank: 5), 4)
    }

    func testParallelPairsRemoveExactlyTheirVerticesFromTheCount() throws {
        // Units 2i and 2i + 1 share a direction (as the simulator's excitatory/inhibitory pairs do): 20 parallel
        // pairs never meet, so the count is Zaslavsky's minus 20. 400 sweep directions over 20 networks, so that
        // some nearly line up with a normal, where rounding once made parallel lines cross (seeds 35, 226, 362).
        for seed in UInt64(0)..<400 {
            var model = TestNetworks.random(units: 40, rank: 2, activation: .relu, seed: seed % 20)
            for pair in 0..<20 { for r in 0..<2 { model.M[2 * pair + 1, r] = model.M[2 * pair, r] } }
            let result = try analyticFixedPoints(model, options: AnalyticOptions(seed: seed))
            XCTAssertEqual(Double(result.regionsSearched), regionBound(hyperplanes: 40, rank: 2) - 20, "seed \(seed)")
        }
    }

    func testZeroBiasOriginIsFoundOnceAndFlaggedOnBoundary() throws {
        let model = TestNetworks.random(units: 8, rank: 2, activation: .relu, degeneracy: .zeroBias, seed: 3)
        let result = try analyticFixedPoints(model)
        let origins = result.points.filter { $0.latent.allSatisfy { abs($0) < 1e-12 } }
        XCTAssertEqual(origins.count, 1)
        XCTAssertTrue(origins[0].onBoundary)
    }

    func testReachLikeFixtureHasSeventeenPointsEightStableEightSaddlesOneUnstable() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/reach_like_rnn", withExtension: "h5"))
        let file = try HDF5File.open(url.path)
        let group = try file.group("/rnn")
        func matrix(_ name: String) throws -> Matrix { Matrix(try group.dataset(name).read(as: Double.self)) }
        let model = LowRankRNN(A: try matrix("A"), M: try matrix("M"), N: try matrix("N"),
                               b: try group.dataset("b").read(as: Double.self).elements,
                               c: try group.dataset("c").read(as: Double.self).elements,
                               clip: try group.dataset("clip").read(as: Double.self).elements,
                               activation: .clippedRelu)
        let result = try analyticFixedPoints(model)
        XCTAssertEqual(result.points.count, 17)
        XCTAssertEqual(result.points.filter { $0.stability == .stable }.count, 8)
        XCTAssertEqual(result.points.filter { $0.stability == .saddle(unstableDirections: 1) }.count, 8)
        XCTAssertEqual(result.points.filter { $0.stability == .unstable }.count, 1)
        let reference = try file.dataset("/reference/latent").read(as: Double.self)
        let kinds = try file.dataset("/reference/kind").read(as: Int8.self).elements
        for index in 0..<reference.shape[0] {
            let z = [reference[index, 0], reference[index, 1]]
            let point = try XCTUnwrap(result.points.first { zip($0.latent, z).allSatisfy { abs($0 - $1) < 1e-9 } },
                                      "reference point \(z) not found")
            XCTAssertEqual(point.unstableDirections, [0, 1, 2][Int(kinds[index])])
        }
        assertSameSet(result.points, try bruteForceFixedPoints(model).points, "fixture vs brute force")
    }

    func testRingNetworkHasOneStablePointPerDirectionOnACircle() throws {
        let small = TestNetworks.ring(units: 8)
        assertSameSet(try analyticFixedPoints(small).points, try bruteForceFixedPoints(small).points, "ring vs brute")
        // 16 directions: a stable point per direction, a saddle between each pair, the unstable origin.
        let result = try analyticFixedPoints(TestNetworks.ring(units: 16))
        XCTAssertEqual(result.points.count, 33)
        XCTAssertEqual(result.points.filter { $0.stability == .unstable }.count, 1)
        XCTAssertEqual(result.points.filter { $0.stability == .saddle(unstableDirections: 1) }.count, 16)
        let stable = result.points.filter { $0.stability == .stable }
        XCTAssertEqual(stable.count, 16)
        let radii = stable.map { ($0.latent[0] * $0.latent[0] + $0.latent[1] * $0.latent[1]).squareRoot() }
        XCTAssertLessThan(radii.max()! - radii.min()!, 0.05 * radii.max()!, "stable points should lie on a ring")
    }

    func testSameResultForAnyThreadCountAndSeed() throws {
        let model = TestNetworks.random(units: 30, rank: 3, activation: .relu, seed: 11)
        let one = try analyticFixedPoints(model, options: AnalyticOptions(seed: 1, threads: 1))
        let two = try analyticFixedPoints(model, options: AnalyticOptions(seed: 2, threads: 2))
        XCTAssertEqual(one.regionsSearched, two.regionsSearched)
        assertSameSet(one.points, two.points, "threads/seed")
    }

    func testSearchFindsASubsetOfTheAnalyticSet() throws {
        let model = TestNetworks.random(units: 40, rank: 2, activation: .relu, seed: 5)
        let analytic = try analyticFixedPoints(model)
        let search = searchFixedPoints(model, options: SearchOptions(restarts: 200, seed: 1))
        XCTAssertFalse(search.points.isEmpty)
        XCTAssertLessThanOrEqual(search.points.count, analytic.points.count)
        for point in search.points {
            XCTAssertTrue(analytic.points.contains { zip($0.latent, point.latent).allSatisfy { abs($0 - $1) < 1e-8 } },
                          "search found \(point.latent), which the analytic method did not")
        }
    }

    func testSearchHandlesTanh() throws {
        // z' = 0.5 z + 2 tanh(z): fixed points where z = 4 tanh(z), i.e. 0 (unstable) and ±3.9973 (stable).
        let model = LowRankRNN(A: Matrix([[0.5]]), M: Matrix([[1]]), N: Matrix([[2]]), b: [0], c: [0], clip: nil,
                               activation: .tanh)
        let result = searchFixedPoints(model, options: SearchOptions(restarts: 50, scale: 5))
        XCTAssertEqual(result.points.count, 3)
        XCTAssertEqual(result.points.filter { $0.stability == .stable }.count, 2)
        XCTAssertEqual(result.points.first { $0.stability == .stable }!.latent[0].magnitude, 3.99730, accuracy: 1e-4)
        XCTAssertThrowsError(try analyticFixedPoints(model))
    }

    func testGuardsRefuseInfeasibleWork() throws {
        let big = TestNetworks.random(units: 200, rank: 3, activation: .relu, seed: 1)
        XCTAssertThrowsError(try analyticFixedPoints(big, options: AnalyticOptions(maxRegions: 1e5))) { error in
            XCTAssertEqual(error as? FixedPointError, .tooManyRegions(bound: 1_333_501, limit: 1e5))
        }
        XCTAssertThrowsError(try bruteForceFixedPoints(big)) { error in
            guard case FixedPointError.bruteForceTooLarge = error else { return XCTFail("\(error)") }
        }
    }

    func testInconsistentShapesAreNamed() {
        XCTAssertThrowsError(try LowRankRNN(validating: Matrix([[0.5]]), M: Matrix(rows: 4, columns: 2),
                                            N: Matrix(rows: 2, columns: 4), b: [0, 0, 0, 0], c: [0, 0], clip: nil,
                                            activation: .relu)) { error in
            XCTAssertTrue("\(error)".contains("A is 1 × 1"), "\(error)")
        }
    }
}
