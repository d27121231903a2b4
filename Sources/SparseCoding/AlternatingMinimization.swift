import LinearAlgebra
import NFXCore

/// Alternating minimisation (the scheme of SPORCO's and alphacsc's dictionary learners): code every window by
/// locally greedy coordinate descent (warm-started from the previous iteration's codes), then solve the filter
/// problem exactly —
/// it is a least-squares problem in the filters whose normal equations A·h_k = b_k (one per channel) are built
/// from the codes' cross-correlations — by accelerated projected gradient onto ‖h_c‖ ≤ 1.
enum AlternatingMinimization {
    static func learn(_ y: [Double], channels K: Int, samples N: Int, start: ConvolutionalDictionary,
                      windows: Windows, lambda: Double, options: DictionaryLearningOptions,
                      noiseLevel: Double, progress: ((DictionaryLearningProgress) -> Void)? = nil)
        -> DictionaryLearningResult {
        let (C, L) = (options.filters, options.length)
        var dictionary = start
        var codes = [SparseCodes](repeating: SparseCodes(), count: windows.ranges.count)
        var objective: [Double] = []
        var converged = false
        let recording = y
        for _ in 0..<options.maxIterations {
            let current = dictionary, previousCodes = codes
            // Codes to 3e-4 of the largest code per iteration (warm-started): looser coding early was faster but
            // sent one of three test recordings to a worse local optimum.
            let codingTolerance = 3e-4
            let coded = concurrentMap(windows.ranges.count, threads: options.threads) { w -> WindowStatistics in
                let range = windows.ranges[w]
                let window = windows.slice(recording, channels: K, samples: N, w)
                let M = current.codeLength(samples: range.count)
                let result = LocallyGreedyCoordinateDescent.encode(current, recording: window, samples: range.count,
                    options: SparseCodingOptions(lambda: lambda, nonnegative: options.nonnegative, maxIterations: 500,
                                                 tolerance: codingTolerance),
                    start: previousCodes[w].values.isEmpty ? nil : previousCodes[w].dense(filters: C, positions: M))
                let sparse = SparseCodes(dense: result.codes, filters: C, positions: M)
                return WindowStatistics(codes: sparse, window: window, samples: range.count, channels: K, filters: C,
                                        length: L, objective: result.objective.last ?? 0)
            }
            codes = coded.map(\.codes)
            let value = coded.reduce(0) { $0 + $1.objective }
            var A = [Double](repeating: 0, count: C * L * C * L)
            var b = [Double](repeating: 0, count: K * C * L)
            for window in coded {
                for index in A.indices { A[index] += window.A[index] }
                for index in b.indices { b[index] += window.b[index] }
            }
            dictionary = updateFilters(dictionary, A: A, b: b)
            objective.append(value)
            progress?(DictionaryLearningProgress(iteration: objective.count, fractionDone: 1, objective: value))
            if DictionaryLearning.hasConverged(objective, tolerance: options.tolerance) {
                converged = true
                break
            }
        }
        return DictionaryLearningResult(dictionary: DictionaryLearning.finalized(dictionary, codes: codes,
                                                                                 sorted: options.sortsByUsage),
                                        objective: objective, iterations: objective.count, converged: converged,
                                        lambda: lambda, noiseLevel: noiseLevel)
    }

    /// argmin over ‖h_c‖ ≤ 1 of Σ_k ½ h_kᵀ A h_k − b_kᵀ h_k, by FISTA-style projected gradient from the current
    /// filters with step 1/λ_max(A). h_k is channel k of every filter, indexed (c, tap).
    static func updateFilters(_ dictionary: ConvolutionalDictionary, A: [Double], b: [Double]) -> ConvolutionalDictionary {
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let size = C * L
        let matrix = Matrix(rows: size, columns: size, elements: A)
        guard let largest = try? symmetricEigen(matrix).values.max(), largest > 0 else { return dictionary }
        // Channel-major copy of the filters: h[k][c·L + τ].
        var h = Matrix(rows: K, columns: size)
        for c in 0..<C { for k in 0..<K { for tap in 0..<L { h[k, c * L + tap] = dictionary.weights[(c * K + k) * L + tap] } } }
        var z = h, previous = h
        var t = 1.0
        let B = Matrix(rows: K, columns: size, elements: b)
        for _ in 0..<200 {
            guard let product = try? multiply(z, matrix) else { break }
            previous = h
            for index in h.elements.indices { h.elements[index] = z.elements[index] - (product.elements[index] - B.elements[index]) / largest }
            project(&h, filters: C, channels: K, length: L)
            let nextT = (1 + (1 + 4 * t * t).squareRoot()) / 2
            for index in z.elements.indices {
                z.elements[index] = h.elements[index] + (t - 1) / nextT * (h.elements[index] - previous.elements[index])
            }
            t = nextT
        }
        var updated = dictionary
        for c in 0..<C { for k in 0..<K { for tap in 0..<L { updated.weights[(c * K + k) * L + tap] = h[k, c * L + tap] } } }
        return updated
    }

    /// Each filter (all channels) onto the unit ball.
    static func project(_ h: inout Matrix, filters C: Int, channels K: Int, length L: Int) {
        for c in 0..<C {
            var norm = 0.0
            for k in 0..<K { for tap in 0..<L { norm += h[k, c * L + tap] * h[k, c * L + tap] } }
            norm = norm.squareRoot()
            guard norm > 1 else { continue }
            for k in 0..<K { for tap in 0..<L { h[k, c * L + tap] /= norm } }
        }
    }
}

/// One window's codes and its contribution to the filter problem's normal equations.
struct WindowStatistics: Sendable {
    var codes: SparseCodes
    /// Σ_t x_c[t − τ]·x_c′[t − τ′], indexed ((c, τ), (c′, τ′)).
    var A: [Double]
    /// Σ_t y_k[t]·x_c[t − τ], indexed (k, (c, τ)).
    var b: [Double]
    var objective: Double

    init(codes: SparseCodes, window y: [Double], samples N: Int, channels K: Int, filters C: Int, length L: Int,
         objective: Double) {
        self.codes = codes
        self.objective = objective
        let size = C * L
        var A = [Double](repeating: 0, count: size * size)
        var b = [Double](repeating: 0, count: K * size)
        let order = codes.values.indices.sorted { codes.positions[$0] < codes.positions[$1] }
        for (rank, i) in order.enumerated() {
            let (ci, si, vi) = (Int(codes.filters[i]), Int(codes.positions[i]), codes.values[i])
            for k in 0..<K {
                for tap in 0..<L { b[k * size + ci * L + tap] += vi * y[k * N + si + tap] }
            }
            // Pairs with a later (or the same) code within one filter length overlap.
            for j in order[rank...] {
                let sj = Int(codes.positions[j])
                let d = sj - si
                if d >= L { break }
                let (cj, vj) = (Int(codes.filters[j]), codes.values[j])
                let product = vi * vj
                for tapI in d..<L {
                    let tapJ = tapI - d
                    A[(ci * L + tapI) * size + cj * L + tapJ] += product
                    if j != i { A[(cj * L + tapJ) * size + ci * L + tapI] += product }
                }
            }
        }
        self.A = A
        self.b = b
    }
}
