import Foundation
import XCTest
import NFXCore
@testable import Deconvolution

final class FFTTests: XCTestCase {
    func testMatchesTheDirectDiscreteFourierTransform() {
        var generator = SeededGenerator(seed: 4)
        for size in [2, 8, 64, 256] {
            let signal = (0..<size).map { _ in generator.normal() }
            var real = signal, imaginary = [Double](repeating: 0, count: size)
            FFT(size: size).transform(&real, &imaginary)
            for k in 0..<size {
                var re = 0.0, im = 0.0
                for n in 0..<size {
                    let angle = -2 * Double.pi * Double(k * n) / Double(size)
                    re += signal[n] * cos(angle)
                    im += signal[n] * sin(angle)
                }
                XCTAssertEqual(real[k], re, accuracy: 1e-9, "size \(size), bin \(k)")
                XCTAssertEqual(imaginary[k], im, accuracy: 1e-9, "size \(size), bin \(k)")
            }
        }
    }

    func testWhiteNoiseLevelIsRecovered() {
        var generator = SeededGenerator(seed: 5)
        let noise = (0..<50_000).map { _ in 0.7 * generator.normal() }
        XCTAssertEqual(ParameterEstimation.noiseLevel(noise), 0.7, accuracy: 0.02 * 0.7)
        // Short traces fall back to a direct transform of a single segment.
        let short = Array(noise.prefix(100))
        XCTAssertEqual(ParameterEstimation.noiseLevel(short), 0.7, accuracy: 0.25 * 0.7)
    }
}
