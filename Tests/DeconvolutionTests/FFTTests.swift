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

    /// The Welch estimate transforms two segments at once (as real and imaginary parts); against the same
    /// estimate with every segment transformed alone by a direct DFT, for even and odd segment counts.
    func testPairedSegmentsGiveTheSingleSegmentEstimate() {
        var generator = SeededGenerator(seed: 6)
        for count in [256 + 128 * 4, 256 + 128 * 5] {
            let signal = (0..<count).map { t in generator.normal() + 0.3 * sin(Double(t) / 7) }
            let length = 256, window = (0..<length).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / 256) }
            let bins = (0...128).filter { $0 > 64 && $0 < 128 }
            var power = [Double](repeating: 0, count: bins.count), segments = 0
            for start in stride(from: 0, through: count - length, by: 128) {
                let segment = Array(signal[start..<start + length])
                let mean = segment.reduce(0, +) / Double(length)
                for (j, k) in bins.enumerated() {
                    var re = 0.0, im = 0.0
                    for n in 0..<length {
                        let angle = -2 * Double.pi * Double(k * n) / Double(length)
                        re += (segment[n] - mean) * window[n] * cos(angle)
                        im += (segment[n] - mean) * window[n] * sin(angle)
                    }
                    power[j] += re * re + im * im
                }
                segments += 1
            }
            let windowPower = window.reduce(0) { $0 + $1 * $1 }
            let density = power.map { 2 * $0 / (windowPower * Double(segments)) }
            let expected = (density.reduce(0, +) / Double(density.count) / 2).squareRoot()
            XCTAssertEqual(ParameterEstimation.noiseLevel(signal), expected, accuracy: 1e-12 * expected, "\(count)")
        }
    }
}
