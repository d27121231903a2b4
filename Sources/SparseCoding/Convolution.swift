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
    /// Eight outputs at a time for up to four filters at once: each tap loads the signal once (two unaligned
    /// 4-wide loads) and feeds it to every filter's accumulators, which stay in registers across the taps —
    /// the loop is bound by the multiply-adds, not by reloading the signal per filter.
    public static func correlate(_ dictionary: ConvolutionalDictionary, residual r: UnsafePointer<Double>,
                                 samples N: Int, into g: UnsafeMutablePointer<Double>, positions M: Int) {
        precondition(M == dictionary.codeLength(samples: N), "correlate: \(M) positions for \(N) samples")
        g.update(repeating: 0, count: dictionary.filters * M)
        guard M > 0 else { return }
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let stride = MemoryLayout<Double>.stride
        dictionary.weights.withUnsafeBufferPointer { h in
            var first = 0
            while first < C {
                let group = min(4, C - first)
                for k in 0..<K {
                    let signal = UnsafeRawPointer(r + k * N)
                    let filters = (0..<4).map { h.baseAddress! + dictionary.offset(filter: first + min($0, group - 1), channel: k) }
                    let (f0, f1, f2, f3) = (filters[0], filters[1], filters[2], filters[3])
                    let (o0, o1, o2, o3) = (g + first * M, g + (first + min(1, group - 1)) * M,
                                            g + (first + min(2, group - 1)) * M, g + (first + min(3, group - 1)) * M)
                    var s = 0
                    while s + 8 <= M {
                        var (a0, b0, a1, b1) = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())
                        var (a2, b2, a3, b3) = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())
                        for tap in 0..<L {
                            let offset = (s + tap) * stride
                            let low = signal.loadUnaligned(fromByteOffset: offset, as: SIMD4<Double>.self)
                            let high = signal.loadUnaligned(fromByteOffset: offset + 4 * stride, as: SIMD4<Double>.self)
                            a0 += f0[tap] * low
                            b0 += f0[tap] * high
                            a1 += f1[tap] * low
                            b1 += f1[tap] * high
                            a2 += f2[tap] * low
                            b2 += f2[tap] * high
                            a3 += f3[tap] * low
                            b3 += f3[tap] * high
                        }
                        // Groups of fewer than four filters repeat the last one; its sums are stored once.
                        add(o0 + s, a0, b0)
                        if group > 1 { add(o1 + s, a1, b1) }
                        if group > 2 { add(o2 + s, a2, b2) }
                        if group > 3 { add(o3 + s, a3, b3) }
                        s += 8
                    }
                    let values = r + k * N
                    for index in 0..<group {
                        let filter = filters[index], output = g + (first + index) * M
                        for position in s..<M {
                            var sum = 0.0
                            for tap in 0..<L { sum += filter[tap] * values[position + tap] }
                            output[position] += sum
                        }
                    }
                }
                first += group
            }
        }
    }

    @inline(__always)
    private static func add(_ output: UnsafeMutablePointer<Double>, _ low: SIMD4<Double>, _ high: SIMD4<Double>) {
        for lane in 0..<4 {
            output[lane] += low[lane]
            output[4 + lane] += high[lane]
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
