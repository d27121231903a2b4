/// Convolutional sparse coding by locally greedy coordinate descent (LGCD; Moreau, Oudre & Vayatis 2018, the
/// default solver of alphacsc): the code positions are cut into segments one filter long; in turn, each segment
/// updates its single coordinate whose exact minimiser moves furthest, and the correlations with the residual
/// are updated only within a filter length of it, through the filters' cross-correlations. With sparse codes a
/// sweep costs a few operations per position instead of FISTA's full passes, and it reaches the same optimum.
public enum LocallyGreedyCoordinateDescent {
    /// Solves min ½‖y − Hx‖² + λ‖x‖₁ (x ≥ 0 with `options.nonnegative`) from `start` (or 0), until no segment
    /// can move a coordinate by more than `options.tolerance` × the largest code (absolute floor 1e-12), or
    /// `options.maxIterations` sweeps. A segment is revisited only when an update nearby changed its correlations.
    ///
    /// With `minimumCodes` (one per filter) the penalty is L0 instead: a coordinate is set to its least-squares
    /// value when that reaches the filter's minimum and to 0 otherwise (the exact coordinate minimiser of
    /// ½‖y − Hx‖² + Σ μ_c·#{x_c ≠ 0} with μ_c = ½‖h_c‖²·minimum², so the objective still falls at every step);
    /// `options.lambda` is then unused. Unlike L1, this does not share one spike between two similar filters:
    /// the better one takes it whole and the other's correlation drops to the shapes' difference.
    public static func encode(_ dictionary: ConvolutionalDictionary, recording y: [Double], samples N: Int,
                              options: SparseCodingOptions, start: [Double]? = nil,
                              minimumCodes: [Double]? = nil) -> SparseCodingResult {
        precondition(minimumCodes.map { $0.count == dictionary.filters } ?? true,
                     "LGCD: \(minimumCodes?.count ?? 0) minimum codes for \(dictionary.filters) filters")
        let (C, L) = (dictionary.filters, dictionary.length)
        let M = dictionary.codeLength(samples: N)
        var x = start ?? [Double](repeating: 0, count: C * M)
        guard M > 0 else { return SparseCodingResult(codes: x, objective: [], iterations: 0, lipschitz: 0) }
        // β = Hᵀ(y − Hx): the correlation of every filter with the residual.
        var residual = Convolution.synthesize(dictionary, codes: x, samples: N)
        for index in residual.indices { residual[index] = y[index] - residual[index] }
        var beta = Convolution.correlate(dictionary, residual: residual, samples: N)
        let gram = crossCorrelations(dictionary)      // [c][c′][δ + L − 1] = Σ_k Σ_τ h[c,k,τ]·h[c′,k,τ+δ]
        let norms = (0..<C).map { gram[($0 * C + $0) * (2 * L - 1) + L - 1] }
        let lambda = options.lambda
        var iterations = 0
        var objective: [Double] = []
        let segments = (M + L - 1) / L
        // Only segments whose correlations changed since they were last visited can move: the others are skipped.
        var dirty = [Bool](repeating: true, count: segments)
        var largestCode = x.reduce(0) { max($0, abs($1)) }
        for _ in 0..<options.maxIterations {
            iterations += 1
            var anyDirty = false
            let threshold = max(options.tolerance * largestCode, 1e-12)
            for segment in 0..<segments where dirty[segment] {
                dirty[segment] = false
                let first = segment * L, end = min(M, first + L)
                // The coordinate of this segment whose exact minimiser is furthest from its value.
                var best = (c: -1, s: -1, value: 0.0, move: 0.0)
                for c in 0..<C where norms[c] > 0 {
                    for s in first..<end {
                        let current = x[c * M + s]
                        let p = beta[c * M + s] + norms[c] * current
                        let target: Double
                        if let minimumCodes {
                            let value = p / norms[c]
                            target = (options.nonnegative ? value : abs(value)) >= minimumCodes[c] ? value : 0
                        } else if options.nonnegative {
                            target = max(0, p - lambda) / norms[c]
                        } else {
                            target = (p > lambda ? p - lambda : (p < -lambda ? p + lambda : 0)) / norms[c]
                        }
                        let move = abs(target - current)
                        if move > best.move { best = (c, s, target, move) }
                    }
                }
                guard best.c >= 0, best.move > threshold else { continue }
                let delta = best.value - x[best.c * M + best.s]
                x[best.c * M + best.s] = best.value
                largestCode = max(largestCode, abs(best.value))
                // β[c′, s′] −= Δ · Σ_k Σ_τ h[c,k,τ]·h[c′,k,τ + s − s′] for |s′ − s| < L.
                let low = max(0, best.s - L + 1), high = min(M - 1, best.s + L - 1)
                for other in 0..<C {
                    let kernel = (best.c * C + other) * (2 * L - 1)
                    for s in low...high {
                        beta[other * M + s] -= delta * gram[kernel + (best.s - s) + L - 1]
                    }
                }
                for touched in (low / L)...(high / L) { dirty[touched] = true }
                anyDirty = true
            }
            if !anyDirty { break }
        }
        if let minimumCodes {
            var penalty = 0.0
            for c in 0..<C {
                let count = x[(c * M)..<((c + 1) * M)].reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                penalty += 0.5 * norms[c] * minimumCodes[c] * minimumCodes[c] * Double(count)
            }
            objective.append(SparseCoder.value(dictionary, codes: x, recording: y, samples: N, lambda: 0) + penalty)
        } else {
            objective.append(SparseCoder.value(dictionary, codes: x, recording: y, samples: N, lambda: lambda))
        }
        return SparseCodingResult(codes: x, objective: objective, iterations: iterations, lipschitz: 0)
    }

    /// [c][c′][δ + L − 1] = Σ_k Σ_τ h[c,k,τ]·h[c′,k,τ + δ] for δ in −(L − 1)…L − 1: the inner products of filter c
    /// placed at s with filter c′ placed at s − δ, i.e. the Gram matrix HᵀH restricted to one filter length.
    static func crossCorrelations(_ dictionary: ConvolutionalDictionary) -> [Double] {
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        var gram = [Double](repeating: 0, count: C * C * (2 * L - 1))
        for c in 0..<C {
            for other in 0..<C {
                for delta in -(L - 1)...(L - 1) {
                    var sum = 0.0
                    for k in 0..<K {
                        let a = dictionary.offset(filter: c, channel: k), b = dictionary.offset(filter: other, channel: k)
                        for tap in max(0, -delta)..<min(L, L - delta) {
                            sum += dictionary.weights[a + tap] * dictionary.weights[b + tap + delta]
                        }
                    }
                    gram[(c * C + other) * (2 * L - 1) + delta + L - 1] = sum
                }
            }
        }
        return gram
    }
}
