/// The synthesis operator H (codes → recording) and its adjoint Hᵀ (recording → correlations with the filters)
/// of a `ConvolutionalDictionary`, by direct convolution.
///
/// Why direct: spike waveforms are 30–120 samples long, so each output sample costs filters × channels × length
/// multiply-adds over contiguous runs that the compiler vectorises; an FFT would win only for filters several
/// times longer. Each tap is one contiguous axpy over all positions, so memory is streamed, never gathered.
public enum Convolution {
    /// y (channels × samples) ← H·x, x filters × positions (positions = samples − length + 1).
    ///
    /// Codes are sparse (FISTA's iterates are mostly exact zeros), so the filter is added at each non-zero code
    /// rather than swept over every position: the cost is (non-zeros × channels × length).
    public static func synthesize(_ dictionary: ConvolutionalDictionary, codes x: UnsafePointer<Double>,
                                  positions M: Int, into y: UnsafeMutablePointer<Double>, samples N: Int) {
        precondition(M == dictionary.codeLength(samples: N), "synthesize: \(M) positions for \(N) samples")
        y.update(repeating: 0, count: dictionary.channels * N)
        guard M > 0 else { return }
        let (K, L) = (dictionary.channels, dictionary.length)
        dictionary.weights.withUnsafeBufferPointer { h in
            for c in 0..<dictionary.filters {
                let code = x + c * M
                for s in 0..<M where code[s] != 0 {
                    let amplitude = code[s]
                    for k in 0..<K {
                        let filter = h.baseAddress! + dictionary.offset(filter: c, channel: k)
                        let output = y + k * N + s
                        for tap in 0..<L { output[tap] += amplitude * filter[tap] }
                    }
                }
            }
        }
    }

    /// g (filters × positions) ← Hᵀ·r, r channels × samples: g[c, s] = Σ_k Σ_τ h[c, k, τ]·r[k, s + τ].
    ///
    /// Eight outputs at a time in two 4-wide accumulators, each tap one broadcast weight times an unaligned load
    /// of the signal: the outputs stay in registers across all taps of a channel.
    public static func correlate(_ dictionary: ConvolutionalDictionary, residual r: UnsafePointer<Double>,
                                 samples N: Int, into g: UnsafeMutablePointer<Double>, positions M: Int) {
        precondition(M == dictionary.codeLength(samples: N), "correlate: \(M) positions for \(N) samples")
        g.update(repeating: 0, count: dictionary.filters * M)
        guard M > 0 else { return }
        let (K, L) = (dictionary.channels, dictionary.length)
        dictionary.weights.withUnsafeBufferPointer { h in
            for c in 0..<dictionary.filters {
                let output = g + c * M
                for k in 0..<K {
                    let filter = h.baseAddress! + dictionary.offset(filter: c, channel: k)
                    let signal = UnsafeRawPointer(r + k * N)
                    var s = 0
                    while s + 8 <= M {
                        var low = SIMD4<Double>(), high = SIMD4<Double>()
                        for tap in 0..<L {
                            let weight = SIMD4<Double>(repeating: filter[tap])
                            let offset = (s + tap) * MemoryLayout<Double>.stride
                            low += weight * signal.loadUnaligned(fromByteOffset: offset, as: SIMD4<Double>.self)
                            high += weight * signal.loadUnaligned(fromByteOffset: offset + 4 * MemoryLayout<Double>.stride,
                                                                  as: SIMD4<Double>.self)
                        }
                        for lane in 0..<4 {
                            output[s + lane] += low[lane]
                            output[s + 4 + lane] += high[lane]
                        }
                        s += 8
                    }
                    let values = r + k * N
                    while s < M {
                        var sum = 0.0
                        for tap in 0..<L { sum += filter[tap] * values[s + tap] }
                        output[s] += sum
                        s += 1
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
