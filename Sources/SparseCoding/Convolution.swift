import CKernels

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
        dictionary.weights.withUnsafeBufferPointer { h in
            var first = 0
            while first < C {
                // Four filters share every load of the signal (CKernels' correlation).
                let group = min(4, C - first)
                for k in 0..<K {
                    let filters: [UnsafePointer<Double>?] = (0..<4).map {
                        h.baseAddress! + dictionary.offset(filter: first + min($0, group - 1), channel: k)
                    }
                    let outputs: [UnsafeMutablePointer<Double>?] = (0..<4).map { g + (first + min($0, group - 1)) * M }
                    filters.withUnsafeBufferPointer { filters in
                        outputs.withUnsafeBufferPointer { outputs in
                            nfx_correlate_filters(r + k * N, filters.baseAddress, outputs.baseAddress,
                                                  Int32(group), L, M)
                        }
                    }
                }
                first += group
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
