import CKernels
import Foundation
import NFXCore

/// CRsAE's encoder (Tolooshams, Dey & Ba 2020, "Deep residual autoencoders for expectation maximization-inspired
/// dictionary learning"; Tolooshams & Ba 2022 for spikes): T unrolled FISTA steps for min ½‖y − Hx‖² + λ‖x‖₁ with
/// the dictionary tied in, and the gradient of the loss at its output with respect to the filters, taken through
/// all T steps by the reverse-mode code below.
///
/// Forward, from x₀ = z₀ = a start (the window's codes from its previous visit, or 0), step 1/L, momentum μ_t of
/// FISTA's schedule (constants):
///   v_t = z_t − Hᵀ(H z_t − y) / L,  x_{t+1} = prox(v_t) (soft threshold at λ/L, clipped at 0 for x ≥ 0),
///   z_{t+1} = x_{t+1} + μ_t (x_{t+1} − x_t).
/// The loss is the CDL objective at the output, ½‖y − H x_T‖² + λ‖x_T‖₁ (the start is a constant).
///
/// Why the objective and not the reconstruction error alone: once the encoder is near its fixed point, the gradient
/// of the objective through the steps tends to the gradient of min_x of the objective (the envelope theorem), whose
/// minimiser is the dictionary sought; the reconstruction error alone rewards filters that make up for the
/// threshold's shrinkage. On the 60 s recordings the latter stalled at a worst-unit match of 0.97–0.98.
///
/// Why sparse: FISTA's iterates are mostly exact zeros, so HᵀH z is built from the filters' cross-correlations
/// (one filter length either side of each non-zero code) rather than by two full convolutions, and the backward
/// pass's filter gradients and syntheses run over non-zero codes only (CKernels' sparse_codes.c, AVX2 where the
/// CPU has it). Each step still makes one pass over every code position (the threshold), which is cheap next to a
/// convolution.
struct UnrolledEncoder: Sendable {
    let dictionary: ConvolutionalDictionary
    let steps: Int
    let lipschitz: Double
    let lambda: Double
    let nonnegative: Bool
    let momentum: [Double]
    /// [c][c′][i] = ⟨h_c at s, h_c′ at s − (L − 1) + i⟩: what a unit code of filter c at s adds to filter c′'s
    /// correlation at s − (L − 1) + i, so HᵀH x is one contiguous axpy per non-zero code and filter.
    private let gramRows: [Double]

    init(dictionary: ConvolutionalDictionary, steps: Int, lipschitz: Double, lambda: Double, nonnegative: Bool = true) {
        self.dictionary = dictionary
        self.steps = steps
        self.lipschitz = lipschitz
        self.lambda = lambda
        self.nonnegative = nonnegative
        var t = 1.0
        var momentum: [Double] = []
        for _ in 0..<steps {
            let next = (1 + (1 + 4 * t * t).squareRoot()) / 2
            momentum.append((t - 1) / next)
            t = next
        }
        self.momentum = momentum
        gramRows = UnrolledEncoder.gramRows(dictionary)
    }

    /// The filters' cross-correlations (`LocallyGreedyCoordinateDescent.crossCorrelations`) with each run of
    /// 2·length − 1 reversed: the layout of `gramRows` and of CKernels' nfx_add_gram_product.
    static func gramRows(_ dictionary: ConvolutionalDictionary) -> [Double] {
        let (C, L) = (dictionary.filters, dictionary.length)
        let width = 2 * L - 1
        let gram = LocallyGreedyCoordinateDescent.crossCorrelations(dictionary)
        var rows = [Double](repeating: 0, count: C * C * width)
        for pair in 0..<(C * C) {
            for i in 0..<width { rows[pair * width + i] = gram[pair * width + width - 1 - i] }
        }
        return rows
    }

    /// The codes x_T of one window (channels × samples) from `start`.
    func encode(_ y: [Double], samples N: Int, start: SparseCodes = SparseCodes()) -> SparseCodes {
        var pass = UnrolledPass(encoder: self, samples: N)
        y.withUnsafeBufferPointer { pass.forward($0.baseAddress!, start: start, keepsSteps: false) }
        return pass.finalCodes()
    }

    /// The loss ½‖y − H x_T‖² + λ‖x_T‖₁ of one window, its gradient with respect to the filters (filters ×
    /// channels × length) through the decoder and all T steps (L, λ and the momenta held fixed), and x_T.
    func lossAndGradient(_ y: [Double], samples N: Int,
                         start: SparseCodes = SparseCodes()) -> (loss: Double, gradient: [Double], codes: SparseCodes) {
        var pass = UnrolledPass(encoder: self, samples: N)
        let (loss, gradient) = y.withUnsafeBufferPointer { y -> (Double, [Double]) in
            pass.forward(y.baseAddress!, start: start, keepsSteps: true)
            return pass.backward(y.baseAddress!)
        }
        return (loss, gradient, pass.finalCodes())
    }

    /// out[c′, s − (L − 1) + i] += value · gramRows[c][c′][i] for each listed code (c, s), index c·M + s: HᵀH x.
    fileprivate func addGramProduct(_ codes: CodeRun, positions M: Int, into out: UnsafeMutablePointer<Double>) {
        gramRows.withUnsafeBufferPointer {
            nfx_add_gram_product(codes.indices, codes.values, codes.count, M, dictionary.filters, dictionary.length,
                                 $0.baseAddress!, out)
        }
    }

    /// out (channels × samples) += H x for the listed codes.
    fileprivate func addSynthesis(_ codes: CodeRun, positions M: Int, samples N: Int, into out: UnsafeMutablePointer<Double>) {
        dictionary.weights.withUnsafeBufferPointer {
            nfx_add_synthesis(codes.indices, codes.values, codes.count, M, dictionary.channels, dictionary.length, N,
                              $0.baseAddress!, out)
        }
    }

    /// gradient[c, k, τ] += scale · x[c, s] · signal[k, s + τ] for the listed codes: ∂⟨signal, H x⟩/∂H.
    fileprivate func addFilterGradient(_ codes: CodeRun, scale: Double, signal: UnsafePointer<Double>, positions M: Int,
                                       samples N: Int, into gradient: UnsafeMutablePointer<Double>) {
        nfx_add_filter_gradient(codes.indices, codes.values, codes.count, scale, M, dictionary.channels,
                                dictionary.length, N, signal, gradient)
    }
}

/// Non-zero codes as flat indices c·M + s (repeats allowed: every use is linear) and their values, in buffers the
/// caller owns.
fileprivate struct CodeRun {
    var indices: UnsafeMutablePointer<Int32>
    var values: UnsafeMutablePointer<Double>
    var count = 0

    mutating func append(_ index: Int, _ value: Double) {
        indices[count] = Int32(truncatingIfNeeded: index)
        values[count] = value
        count += 1
    }
}

/// One window's trip through the encoder: the forward steps, keeping every x_t (sparse) when the backward pass
/// will need them, and the reverse-mode pass. Each pass carves its dense buffers out of one array of values and
/// one of indices.
fileprivate struct UnrolledPass {
    let encoder: UnrolledEncoder
    let samples: Int
    let positions: Int
    let size: Int
    /// x_0 … x_T: x_t is historyIndices/historyValues[offsets[t]..<offsets[t + 1]] (only x_T without
    /// `keepsSteps`).
    var historyIndices: [Int32] = []
    var historyValues: [Double] = []
    var offsets: [Int] = [0]

    init(encoder: UnrolledEncoder, samples N: Int) {
        self.encoder = encoder
        samples = N
        positions = encoder.dictionary.codeLength(samples: N)
        size = encoder.dictionary.filters * positions
        // Code indices are Int32 (in the C kernels too).
        precondition(size <= Int(Int32.max), "UnrolledEncoder: \(size) codes in one window exceed Int32; use a smaller --window")
    }

    private mutating func record(_ run: CodeRun, replacing: Bool) {
        if replacing {
            historyIndices.removeAll(keepingCapacity: true)
            historyValues.removeAll(keepingCapacity: true)
            offsets = [0]
        }
        historyIndices.append(contentsOf: UnsafeBufferPointer(start: run.indices, count: run.count))
        historyValues.append(contentsOf: UnsafeBufferPointer(start: run.values, count: run.count))
        offsets.append(historyIndices.count)
    }

    mutating func forward(_ y: UnsafePointer<Double>, start: SparseCodes, keepsSteps: Bool) {
        let (M, size, steps) = (positions, size, encoder.steps)
        let inverseL = 1 / encoder.lipschitz, threshold = encoder.lambda / encoder.lipschitz
        let negativePart: Double = encoder.nonnegative ? 0 : 1
        var dense = [Double](repeating: 0, count: 6 * size)
        var indices = [Int32](repeating: 0, count: 2 * size)
        dense.withUnsafeMutableBufferPointer { dense in
            indices.withUnsafeMutableBufferPointer { indices in
                let correlation = dense.baseAddress!, x = correlation + size, z = x + size, product = z + size
                var codes = CodeRun(indices: indices.baseAddress!, values: product + size)
                var extrapolated = CodeRun(indices: indices.baseAddress! + size, values: product + 2 * size)
                // b = Hᵀy / L: the only full convolution of the forward pass.
                Convolution.correlate(encoder.dictionary, residual: y, samples: samples, into: correlation, positions: M)
                for index in 0..<size { correlation[index] *= inverseL }
                precondition(start.values.count <= size, "UnrolledEncoder: more start codes than positions")
                for entry in start.values.indices {
                    precondition(Int(start.filters[entry]) < encoder.dictionary.filters && Int(start.positions[entry]) < M,
                                 "UnrolledEncoder: a start code outside the window")
                    let index = Int(start.filters[entry]) * M + Int(start.positions[entry])
                    x[index] = start.values[entry]
                    z[index] = start.values[entry]
                    codes.append(index, start.values[entry])
                    extrapolated.append(index, start.values[entry])
                }
                record(codes, replacing: true)
                for t in 0..<steps {
                    let momentum = encoder.momentum[t]
                    product.update(repeating: 0, count: size)
                    encoder.addGramProduct(extrapolated, positions: M, into: product)
                    nfx_fista_threshold_step(size, correlation, product, inverseL, threshold, negativePart, momentum,
                                             x, z, codes.indices, codes.values, &codes.count, extrapolated.indices,
                                             extrapolated.values, &extrapolated.count)
                    record(codes, replacing: !keepsSteps)
                }
            }
        }
    }

    /// The final codes x_T as SparseCodes.
    func finalCodes() -> SparseCodes {
        var codes = SparseCodes()
        for entry in offsets[offsets.count - 2]..<offsets[offsets.count - 1] {
            let index = Int(historyIndices[entry])
            codes.filters.append(Int32(index / positions))
            codes.positions.append(Int32(index % positions))
            codes.values.append(historyValues[entry])
        }
        return codes
    }

    /// z_t = x_t + μ_{t−1}(x_t − x_{t−1}) into `run`, with repeated indices.
    private func extrapolated(at t: Int, into run: inout CodeRun) {
        run.count = 0
        let factor = t > 0 ? 1 + encoder.momentum[t - 1] : 1
        for entry in offsets[t]..<offsets[t + 1] { run.append(Int(historyIndices[entry]), factor * historyValues[entry]) }
        guard t > 0, encoder.momentum[t - 1] != 0 else { return }
        let momentum = encoder.momentum[t - 1]
        for entry in offsets[t - 1]..<offsets[t] { run.append(Int(historyIndices[entry]), -momentum * historyValues[entry]) }
    }

    func backward(_ y: UnsafePointer<Double>) -> (loss: Double, gradient: [Double]) {
        let dictionary = encoder.dictionary
        let (K, M, N, size) = (dictionary.channels, positions, samples, size)
        let T = encoder.steps, inverseL = 1 / encoder.lipschitz, lambda = encoder.lambda
        precondition(offsets.count == T + 2, "UnrolledPass.backward needs forward(keepsSteps: true)")
        let longestRun = (1..<offsets.count).reduce(1) { max($0, offsets[$1] - offsets[$1 - 1]) }
        var gradient = [Double](repeating: 0, count: dictionary.weights.count)
        var dense = [Double](repeating: 0, count: 4 * size + 2 * K * N + 3 * longestRun)
        var indices = [Int32](repeating: 0, count: 3 * longestRun)
        var loss = 0.0
        gradient.withUnsafeMutableBufferPointer { gradientBuffer in
            dense.withUnsafeMutableBufferPointer { dense in
                indices.withUnsafeMutableBufferPointer { indices in
                    let gradient = gradientBuffer.baseAddress!
                    var adjointX = dense.baseAddress!, adjointPrevious = adjointX + size
                    let adjointZ = adjointPrevious + size, product = adjointZ + size
                    let signal = product + size, decoded = signal + K * N
                    var adjointV = CodeRun(indices: indices.baseAddress!, values: decoded + K * N)
                    var z = CodeRun(indices: indices.baseAddress! + longestRun, values: adjointV.values + longestRun)
                    // Decoder: e = H x_T − y; ∂loss/∂H = e ⋆ x_T; ∂loss/∂x_T = Hᵀe + λ sign(x_T). x_T borrows z's
                    // buffers, which the steps below refill.
                    var final = z
                    final.count = 0
                    for entry in offsets[T]..<offsets[T + 1] { final.append(Int(historyIndices[entry]), historyValues[entry]) }
                    encoder.addSynthesis(final, positions: M, samples: N, into: signal)
                    for index in 0..<(K * N) {
                        signal[index] -= y[index]
                        loss += 0.5 * signal[index] * signal[index]
                    }
                    encoder.addFilterGradient(final, scale: 1, signal: signal, positions: M, samples: N, into: gradient)
                    Convolution.correlate(dictionary, residual: signal, samples: N, into: adjointX, positions: M)
                    for entry in 0..<final.count {
                        let value = final.values[entry]
                        loss += lambda * abs(value)
                        adjointX[Int(final.indices[entry])] += value > 0 ? lambda : -lambda
                    }
                    for t in stride(from: T - 1, through: 0, by: -1) {
                        // z_{t+1} = x_{t+1} + μ_t (x_{t+1} − x_t).
                        let momentum = encoder.momentum[t]
                        for index in 0..<size {
                            adjointX[index] += (1 + momentum) * adjointZ[index]
                            adjointPrevious[index] = -momentum * adjointZ[index]
                        }
                        // x_{t+1} = prox(v_t): the adjoint passes where x_{t+1} ≠ 0.
                        adjointV.count = 0
                        for entry in offsets[t + 1]..<offsets[t + 2] {
                            let index = Int(historyIndices[entry])
                            if adjointX[index] != 0 { adjointV.append(index, adjointX[index]) }
                        }
                        // v_t = z_t − Hᵀ(H z_t − y)/L: ∂/∂H ⟨ā_v, v_t⟩ = −(1/L)[(H z_t − y) ⋆ ā_v + (H ā_v) ⋆ z_t];
                        // ā_z = ā_v − HᵀH ā_v / L.
                        extrapolated(at: t, into: &z)
                        signal.update(repeating: 0, count: K * N)
                        encoder.addSynthesis(z, positions: M, samples: N, into: signal)
                        for index in 0..<(K * N) { signal[index] -= y[index] }
                        encoder.addFilterGradient(adjointV, scale: -inverseL, signal: signal, positions: M, samples: N,
                                                  into: gradient)
                        decoded.update(repeating: 0, count: K * N)
                        encoder.addSynthesis(adjointV, positions: M, samples: N, into: decoded)
                        encoder.addFilterGradient(z, scale: -inverseL, signal: decoded, positions: M, samples: N,
                                                  into: gradient)
                        product.update(repeating: 0, count: size)
                        encoder.addGramProduct(adjointV, positions: M, into: product)
                        for index in 0..<size { adjointZ[index] = -product[index] * inverseL }
                        for entry in 0..<adjointV.count { adjointZ[Int(adjointV.indices[entry])] += adjointV.values[entry] }
                        swap(&adjointX, &adjointPrevious)
                    }
                }
            }
        }
        return (loss, gradient)
    }
}
