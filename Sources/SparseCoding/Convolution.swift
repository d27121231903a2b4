/// The synthesis operator H (codes → recording) and its adjoint Hᵀ (recording → correlations with the filters)
/// of a `ConvolutionalDictionary`, by direct convolution.
///
/// Why direct: spike waveforms are 30–120 samples long, so each output sample costs filters × channels × length
/// multiply-adds over contiguous runs that the compiler vectorises; an FFT would win only for filters several
/// times longer. Each tap is one contiguous axpy over all positions, so memory is streamed, never gathered.
public enum Convolution {
    /// y (channels × samples) ← H·x, x filters × positions (positions = samples − length + 1).
    public static func synthesize(_ dictionary: ConvolutionalDictionary, codes x: UnsafePointer<Double>,
                                  positions M: Int, into y: UnsafeMutablePointer<Double>, samples N: Int) {
        precondition(M == dictionary.codeLength(samples: N), "synthesize: \(M) positions for \(N) samples")
        y.update(repeating: 0, count: dictionary.channels * N)
        guard M > 0 else { return }
        dictionary.weights.withUnsafeBufferPointer { h in
            for c in 0..<dictionary.filters {
                let code = x + c * M
                for k in 0..<dictionary.channels {
                    let filter = h.baseAddress! + dictionary.offset(filter: c, channel: k)
                    let output = y + k * N
                    for tap in 0..<dictionary.length {
                        let weight = filter[tap]
                        if weight == 0 { continue }
                        let shifted = output + tap
                        for s in 0..<M { shifted[s] += weight * code[s] }
                    }
                }
            }
        }
    }

    /// g (filters × positions) ← Hᵀ·r, r channels × samples: g[c, s] = Σ_k Σ_τ h[c, k, τ]·r[k, s + τ].
    public static func correlate(_ dictionary: ConvolutionalDictionary, residual r: UnsafePointer<Double>,
                                 samples N: Int, into g: UnsafeMutablePointer<Double>, positions M: Int) {
        precondition(M == dictionary.codeLength(samples: N), "correlate: \(M) positions for \(N) samples")
        g.update(repeating: 0, count: dictionary.filters * M)
        guard M > 0 else { return }
        dictionary.weights.withUnsafeBufferPointer { h in
            for c in 0..<dictionary.filters {
                let output = g + c * M
                for k in 0..<dictionary.channels {
                    let filter = h.baseAddress! + dictionary.offset(filter: c, channel: k)
                    let signal = r + k * N
                    for tap in 0..<dictionary.length {
                        let weight = filter[tap]
                        if weight == 0 { continue }
                        let shifted = signal + tap
                        for s in 0..<M { output[s] += weight * shifted[s] }
                    }
                }
            }
        }
    }

    /// Array conveniences for tests and small problems.
    public static func synthesize(_ dictionary: ConvolutionalDictionary, codes: [Double], samples: Int) -> [Double] {
        var y = [Double](repeating: 0, count: dictionary.channels * samples)
        let M = dictionary.codeLength(samples: samples)
        codes.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { synthesize(dictionary, codes: x.baseAddress!, positions: M,
                                                          into: $0.baseAddress!, samples: samples) }
        }
        return y
    }

    public static func correlate(_ dictionary: ConvolutionalDictionary, residual: [Double], samples: Int) -> [Double] {
        let M = dictionary.codeLength(samples: samples)
        var g = [Double](repeating: 0, count: dictionary.filters * M)
        residual.withUnsafeBufferPointer { r in
            g.withUnsafeMutableBufferPointer { correlate(dictionary, residual: r.baseAddress!, samples: samples,
                                                         into: $0.baseAddress!, positions: M) }
        }
        return g
    }
}
