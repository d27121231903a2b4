import Foundation
import XCTest
@testable import Deconvolution

/// nfx against OASIS itself: Fixtures/oasis_golden.json holds oasis-deconv's c, s and λ on fixed traces (made by
/// Scripts/fixtures/make_oasis_goldens.py). The solutions are unique, so they must agree to rounding.
final class OASISGoldenTests: XCTestCase {
    private struct Golden: Decodable {
        struct Case: Decodable {
            let name: String
            let kind: String
            let y: [Double]
            let g: Double
            let g2: Double?
            let lam: Double
            let s_min: Double?
            let sigma: Double?
            let c: [Double]
            let s: [Double]
        }
        let source: String
        let cases: [Case]
    }

    private func cases() throws -> [Golden.Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/oasis_golden", withExtension: "json"))
        return try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url)).cases
    }

    private func assertClose(_ ours: [Double], _ theirs: [Double], _ what: String, file: StaticString = #filePath,
                             line: UInt = #line) {
        XCTAssertEqual(ours.count, theirs.count, what, file: file, line: line)
        let scale = max(1e-300, theirs.map(abs).max() ?? 0)
        let difference = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(difference / scale, 1e-8, "\(what): max relative difference", file: file, line: line)
    }

    func testGivenLambdaMatchesOASIS() throws {
        for golden in try cases() where golden.kind == "given" {
            let (c, s) = OASIS.ar1(golden.y, g: golden.g, lambda: golden.lam, minimumSpike: golden.s_min ?? 0)
            assertClose(c, golden.c, "\(golden.name) c")
            assertClose(s, golden.s, "\(golden.name) s")
        }
    }

    func testAR2GivenLambdaMatchesOASIS() throws {
        let ar2 = try cases().filter { $0.kind == "ar2" }
        XCTAssertEqual(ar2.count, 3)
        for golden in ar2 {
            var c = [Double](repeating: 0, count: golden.y.count), s = c
            golden.y.withUnsafeBufferPointer { y in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        _ = OASIS.ar2(y, g1: golden.g, g2: golden.g2!, lambda: golden.lam,
                                      minimumSpike: golden.s_min ?? 0, calcium: cp, spikes: sp)
                    }
                }
            }
            assertClose(c, golden.c, "\(golden.name) c")
            assertClose(s, golden.s, "\(golden.name) s")
        }
    }

    func testGreedyL0MatchesOASIS() throws {
        let l0 = try cases().filter { $0.kind == "l0" }
        XCTAssertFalse(l0.isEmpty)
        for golden in l0 {
            var c = [Double](repeating: 0, count: golden.y.count), s = c
            golden.y.withUnsafeBufferPointer { y in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        _ = OASIS.greedyL0AR1(y, g: golden.g, sigma: golden.sigma!, calcium: cp, spikes: sp)
                    }
                }
            }
            assertClose(c, golden.c, "\(golden.name) c")
            assertClose(s, golden.s, "\(golden.name) s")
        }
    }

    func testNoiseConstrainedLambdaMatchesOASIS() throws {
        for golden in try cases() where golden.kind == "constrained" {
            var c = [Double](repeating: 0, count: golden.y.count), s = c
            let lambda = golden.y.withUnsafeBufferPointer { y in
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in
                        OASIS.noiseConstrainedAR1(y, g: golden.g, sigma: golden.sigma!, calcium: cp, spikes: sp)
                    }
                }
            }
            XCTAssertEqual(lambda, golden.lam, accuracy: 1e-8 * golden.lam, golden.name)
            assertClose(c, golden.c, "\(golden.name) c")
            assertClose(s, golden.s, "\(golden.name) s")
        }
    }
}
