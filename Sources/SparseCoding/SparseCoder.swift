import Foundation
import LinearAlgebra
import NFXCore

public struct SparseCodingOptions: Sendable {
    /// The L1 penalty λ of ½‖y − Hx‖² + λ‖x‖₁, absolute (see `SparseCoder.lambdaMax` for a relative choice).
    public var lambda: Double
    /// Codes ≥ 0 (spikes of a fixed-sign waveform) or signed.
    public var nonnegative: Bool
    public var maxIterations: Int
    /// Stop when ‖x_k − x_{k−1}‖ ≤ tolerance · ‖x_k‖.
    public var tolerance: Double
    /// Record the objective after every iteration (one more synthesis per iteration).
    public var recordsObjective: Bool

    public init(lambda: Double, nonnegative: Bool = true, maxIterations: Int = 300, tolerance: Double = 1e-6,
                recordsObjective: Bool = false) {
        self.lambda = lambda
        self.nonnegative = nonnegative
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.recordsObjective = recordsObjective
    }
}

public struct SparseCodingResult: Sendable {
    /// filters × positions.
    public var codes: [Double]
    /// The objective after each iteration when recorded, else only the final one.
    public var objective: [Double]
    public var iterations: Int
    /// The step bound used (≥ ‖H‖²).
    public var lipschitz: Double
}

/// Convolutional sparse coding, min_x ½‖y − Hx‖² + λ‖x‖₁ (x ≥ 0 optionally), by FISTA (Beck & Teboulle 2009).
public enum SparseCoder {
    /// An upper bound on ‖H‖², valid for every recording length: H is a block of a multichannel circulant, whose
    /// squared norm is max_ω λ_max(Ĥ(ω)ᴴĤ(ω)), Ĥ(ω) the channels × filters matrix of the filters' transfer
    /// functions. λ_max is taken exactly (LAPACK, on the real 2F × 2F form of the Hermitian F × F matrix) on a grid
    /// of 32 × length frequencies and raised by 1 / cos(π / 32): for every unit u, uᴴĤᴴĤu is a trigonometric
    /// polynomial of degree length − 1, whose maximum exceeds its grid maximum by at most that factor (Bernstein).
    /// Tests compare it with power iteration on HᵀH.
    public static func lipschitzBound(_ dictionary: ConvolutionalDictionary) -> Double {
        let (F, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let grid = 32 * max(L, 2)
        var largest = 0.0
        var real = [Double](repeating: 0, count: F * K), imaginary = [Double](repeating: 0, count: F * K)
        // e^{−iωτ} at ω = 2π·point/grid is the grid's (point·τ mod grid)-th root of unity: one table of them.
        let cosines = (0..<grid).map { cos(2 * Double.pi * Double($0) / Double(grid)) }
        let sines = (0..<grid).map { sin(2 * Double.pi * Double($0) / Double(grid)) }
        for point in 0..<grid {
            for c in 0..<F {
                for k in 0..<K {
                    let filter = dictionary.offset(filter: c, channel: k)
                    var re = 0.0, im = 0.0, root = 0
                    for tap in 0..<L {
                        re += dictionary.weights[filter + tap] * cosines[root]
                        im -= dictionary.weights[filter + tap] * sines[root]
                        root += point
                        if root >= grid { root -= grid }
                    }
                    real[c * K + k] = re
                    imaginary[c * K + k] = im
                }
            }
            if F == 1 {
                largest = max(largest, zip(real, imaginary).reduce(0) { $0 + $1.0 * $1.0 + $1.1 * $1.1 })
                continue
            }
            // G = ĤᴴĤ (F × F Hermitian): G[a, b] = Σ_k conj(ĥ_a,k)·ĥ_b,k = P + iQ; its real form [[P, −Q], [Q, P]].
            var form = Matrix(rows: 2 * F, columns: 2 * F)
            for a in 0..<F {
                for b in 0..<F {
                    var p = 0.0, q = 0.0
                    for k in 0..<K {
                        let (ar, ai) = (real[a * K + k], imaginary[a * K + k])
                        let (br, bi) = (real[b * K + k], imaginary[b * K + k])
                        p += ar * br + ai * bi
                        q += ar * bi - ai * br
                    }
                    form[a, b] = p
                    form[F + a, F + b] = p
                    form[a, F + b] = -q
                    form[F + a, b] = q
                }
            }
            if let values = try? symmetricEigen(form).values { largest = max(largest, values.max() ?? 0) }
        }
        return largest / cos(Double.pi / 32)
    }

    /// The smallest λ for which x = 0 is optimal: max_s (Hᵀy)[c, s] for non-negative codes, max |Hᵀy| otherwise.
    public static func lambdaMax(_ dictionary: ConvolutionalDictionary, recording y: [Double], samples: Int,
                                 nonnegative: Bool = true) -> Double {
        let correlations = Convolution.correlate(dictionary, residual: y, samples: samples)
        return correlations.reduce(0) { max($0, nonnegative ? $1 : abs($1)) }
    }

    /// FISTA from x = 0 (or `start`): a gradient step on ½‖y − Hz‖² at the extrapolated point z, then the
    /// shrinkage of λ/L. `y` is channels × samples.
    public static func encode(_ dictionary: ConvolutionalDictionary, recording y: [Double], samples N: Int,
                              options: SparseCodingOptions, lipschitz: Double? = nil,
                              start: [Double]? = nil) -> SparseCodingResult {
        precondition(y.count == dictionary.channels * N, "encode: \(y.count) values for \(dictionary.channels) × \(N)")
        let M = dictionary.codeLength(samples: N)
        let size = dictionary.filters * M
        let step = lipschitz ?? lipschitzBound(dictionary)
        var x = start ?? [Double](repeating: 0, count: size)
        precondition(x.count == size, "encode: start has \(x.count) values, need \(size)")
        var z = x, previous = x
        var residual = [Double](repeating: 0, count: y.count)
        var gradient = [Double](repeating: 0, count: size)
        var objective: [Double] = []
        var t = 1.0
        var iterations = 0
        guard step > 0, M > 0 else {
            return SparseCodingResult(codes: x, objective: [0.5 * y.reduce(0) { $0 + $1 * $1 }], iterations: 0,
                                      lipschitz: step)
        }
        let threshold = options.lambda / step
        for _ in 0..<options.maxIterations {
            iterations += 1
            // residual = Hz − y; gradient = Hᵀ·residual.
            z.withUnsafeBufferPointer { z in
                residual.withUnsafeMutableBufferPointer {
                    Convolution.synthesize(dictionary, codes: z.baseAddress!, positions: M, into: $0.baseAddress!, samples: N)
                }
            }
            for index in residual.indices { residual[index] -= y[index] }
            residual.withUnsafeBufferPointer { r in
                gradient.withUnsafeMutableBufferPointer {
                    Convolution.correlate(dictionary, residual: r.baseAddress!, samples: N, into: $0.baseAddress!, positions: M)
                }
            }
            swap(&previous, &x)
            var change = 0.0, norm = 0.0, restartTest = 0.0
            for index in 0..<size {
                let v = z[index] - gradient[index] / step
                let shrunk: Double
                if options.nonnegative {
                    shrunk = max(0, v - threshold)
                } else {
                    shrunk = v > threshold ? v - threshold : (v < -threshold ? v + threshold : 0)
                }
                x[index] = shrunk
                change += (shrunk - previous[index]) * (shrunk - previous[index])
                norm += shrunk * shrunk
                restartTest += (z[index] - shrunk) * (shrunk - previous[index])
            }
            // Adaptive restart (O'Donoghue & Candès 2015): when the step turns against the momentum, drop it.
            // It removes FISTA's oscillations, which on sparse codes otherwise cost most of the iterations.
            if restartTest > 0 { t = 1 }
            let nextT = (1 + (1 + 4 * t * t).squareRoot()) / 2
            let momentum = (t - 1) / nextT
            for index in 0..<size { z[index] = x[index] + momentum * (x[index] - previous[index]) }
            t = nextT
            if options.recordsObjective { objective.append(value(dictionary, codes: x, recording: y, samples: N, lambda: options.lambda)) }
            if change <= options.tolerance * options.tolerance * max(norm, .leastNormalMagnitude) { break }
        }
        if !options.recordsObjective { objective = [value(dictionary, codes: x, recording: y, samples: N, lambda: options.lambda)] }
        return SparseCodingResult(codes: x, objective: objective, iterations: iterations, lipschitz: step)
    }

    /// ½‖y − Hx‖² + λ‖x‖₁.
    public static func value(_ dictionary: ConvolutionalDictionary, codes x: [Double], recording y: [Double],
                             samples N: Int, lambda: Double) -> Double {
        let model = Convolution.synthesize(dictionary, codes: x, samples: N)
        var residual = 0.0
        for index in y.indices { residual += (y[index] - model[index]) * (y[index] - model[index]) }
        return 0.5 * residual + lambda * x.reduce(0) { $0 + abs($1) }
    }
}
