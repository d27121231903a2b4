import Foundation
import NFXCore

/// CRsAE (Tolooshams, Dey & Ba 2020, "Deep residual autoencoders for expectation maximization-inspired
/// dictionary learning"; Tolooshams & Ba 2022 for spikes): the encoder is T unrolled FISTA steps with the
/// dictionary tied in, the decoder is H itself, and the filters are trained by gradient descent (Adam) on the
/// reconstruction loss ½‖y − H·x_T‖², the gradient taken through all T steps by reverse-mode code below.
///
/// Forward, from x₀ = z₀ = 0 with step 1/L and momentum μ_t of FISTA's schedule (constants):
///   v_t = z_t − Hᵀ(H z_t − y) / L,  x_{t+1} = max(0, v_t − λ/L),  z_{t+1} = x_{t+1} + μ_t (x_{t+1} − x_t).
struct UnrolledEncoder {
    let dictionary: ConvolutionalDictionary
    let steps: Int
    let lipschitz: Double
    let lambda: Double
    let momentum: [Double]

    init(dictionary: ConvolutionalDictionary, steps: Int, lipschitz: Double, lambda: Double) {
        self.dictionary = dictionary
        self.steps = steps
        self.lipschitz = lipschitz
        self.lambda = lambda
        var t = 1.0
        var momentum: [Double] = []
        for _ in 0..<steps {
            let next = (1 + (1 + 4 * t * t).squareRoot()) / 2
            momentum.append((t - 1) / next)
            t = next
        }
        self.momentum = momentum
    }

    /// The codes x_T of one window (channels × samples).
    func encode(_ y: [Double], samples N: Int) -> [Double] {
        forward(y, samples: N).codes.last!
    }

    /// Forward pass keeping what the backward pass needs: every z_t and every x_t.
    func forward(_ y: [Double], samples N: Int) -> (codes: [[Double]], extrapolated: [[Double]]) {
        let M = dictionary.codeLength(samples: N)
        let size = dictionary.filters * M
        var codes = [[Double](repeating: 0, count: size)]
        var extrapolated = [[Double](repeating: 0, count: size)]
        let threshold = lambda / lipschitz
        for t in 0..<steps {
            let z = extrapolated[t]
            var residual = Convolution.synthesize(dictionary, codes: z, samples: N)
            for index in residual.indices { residual[index] -= y[index] }
            let gradient = Convolution.correlate(dictionary, residual: residual, samples: N)
            var x = [Double](repeating: 0, count: size)
            for index in 0..<size { x[index] = max(0, z[index] - gradient[index] / lipschitz - threshold) }
            var next = x
            let previous = codes[t]
            for index in 0..<size { next[index] += momentum[t] * (x[index] - previous[index]) }
            codes.append(x)
            extrapolated.append(next)
        }
        return (codes, extrapolated)
    }

    /// The loss ½‖y − H x_T‖² of one window and its gradient with respect to the filters (filters × channels ×
    /// length), through the decoder and all T encoder steps (L, λ and the momenta held fixed).
    func lossAndGradient(_ y: [Double], samples N: Int) -> (loss: Double, gradient: [Double]) {
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let M = dictionary.codeLength(samples: N)
        let size = C * M
        let pass = forward(y, samples: N)
        var gradient = [Double](repeating: 0, count: C * K * L)
        // Decoder: e = H x_T − y; ∂/∂H ½‖e‖² = e ⋆ x_T; ∂/∂x_T = Hᵀe.
        let xT = pass.codes[steps]
        var error = Convolution.synthesize(dictionary, codes: xT, samples: N)
        for index in error.indices { error[index] -= y[index] }
        let loss = 0.5 * error.reduce(0) { $0 + $1 * $1 }
        accumulateFilterGradient(&gradient, signal: error, codes: xT, samples: N, scale: 1)
        var adjointX = Convolution.correlate(dictionary, residual: error, samples: N)   // ā for x_{t+1}
        var adjointXPrevious = [Double](repeating: 0, count: size)                       // ā for x_t
        var adjointZ = [Double](repeating: 0, count: size)                               // ā for z_{t+1}
        for t in stride(from: steps - 1, through: 0, by: -1) {
            // z_{t+1} = x_{t+1} + μ_t (x_{t+1} − x_t): its adjoint flows to x_{t+1} and x_t.
            for index in 0..<size {
                adjointX[index] += (1 + momentum[t]) * adjointZ[index]
                adjointXPrevious[index] = -momentum[t] * adjointZ[index]
            }
            // x_{t+1} = max(0, v_t − λ/L): the adjoint passes where x_{t+1} > 0.
            let x = pass.codes[t + 1], z = pass.extrapolated[t]
            var adjointV = [Double](repeating: 0, count: size)
            for index in 0..<size where x[index] > 0 { adjointV[index] = adjointX[index] }
            // v_t = z_t − Hᵀ(H z_t − y)/L.
            let Hv = Convolution.synthesize(dictionary, codes: adjointV, samples: N)
            let HtHv = Convolution.correlate(dictionary, residual: Hv, samples: N)
            var residual = Convolution.synthesize(dictionary, codes: z, samples: N)
            for index in residual.indices { residual[index] -= y[index] }
            // ∂/∂H ⟨ā_v, −Hᵀ(Hz − y)/L⟩ = −(1/L)[(Hz − y) ⋆ ā_v + (H ā_v) ⋆ z].
            accumulateFilterGradient(&gradient, signal: residual, codes: adjointV, samples: N, scale: -1 / lipschitz)
            accumulateFilterGradient(&gradient, signal: Hv, codes: z, samples: N, scale: -1 / lipschitz)
            for index in 0..<size { adjointZ[index] = adjointV[index] - HtHv[index] / lipschitz }
            adjointX = adjointXPrevious
        }
        return (loss, gradient)
    }

    /// gradient[c, k, τ] += scale · Σ_s codes[c, s]·signal[k, s + τ]: ∂⟨signal, H·codes⟩/∂H, over non-zero codes.
    private func accumulateFilterGradient(_ gradient: inout [Double], signal: [Double], codes: [Double], samples N: Int,
                                          scale: Double) {
        let (C, K, L) = (dictionary.filters, dictionary.channels, dictionary.length)
        let M = dictionary.codeLength(samples: N)
        for c in 0..<C {
            for s in 0..<M where codes[c * M + s] != 0 {
                let amplitude = scale * codes[c * M + s]
                for k in 0..<K {
                    let base = (c * K + k) * L, signalBase = k * N + s
                    for tap in 0..<L { gradient[base + tap] += amplitude * signal[signalBase + tap] }
                }
            }
        }
    }
}

/// CRsAE training: Adam on the filters over shuffled minibatches of windows, every filter projected to unit
/// norm after every step, L recomputed from the filters once per epoch.
enum CRsAETraining {
    static let learningRate = 0.001
    static let batchWindows = 8

    static func learn(_ y: [Double], channels K: Int, samples N: Int, start: ConvolutionalDictionary,
                      windows: Windows, lambda: Double, options: DictionaryLearningOptions,
                      noiseLevel: Double) -> DictionaryLearningResult {
        var dictionary = start
        var generator = SeededGenerator(seed: options.seed).split(stream: 1)
        var firstMoment = [Double](repeating: 0, count: dictionary.weights.count)
        var secondMoment = firstMoment
        var step = 0
        var objective: [Double] = []
        var converged = false
        let slices = (0..<windows.ranges.count).map { windows.slice(y, channels: K, samples: N, $0) }
        for _ in 0..<options.maxIterations {
            var order = Array(0..<windows.ranges.count)
            generator.shuffle(&order)
            let lipschitz = SparseCoder.lipschitzBound(dictionary)
            var epochLoss = 0.0
            for batchStart in stride(from: 0, to: order.count, by: batchWindows) {
                let batch = Array(order[batchStart..<min(order.count, batchStart + batchWindows)])
                let encoder = UnrolledEncoder(dictionary: dictionary, steps: options.unrolledSteps,
                                              lipschitz: lipschitz, lambda: lambda)
                let parts = concurrentMap(batch.count, threads: options.threads) { position -> (Double, [Double]) in
                    let window = batch[position]
                    let result = encoder.lossAndGradient(slices[window], samples: windows.ranges[window].count)
                    return (result.loss, result.gradient)
                }
                var gradient = [Double](repeating: 0, count: dictionary.weights.count)
                for part in parts {
                    epochLoss += part.0
                    for index in gradient.indices { gradient[index] += part.1[index] }
                }
                // Adam (Kingma & Ba 2015) on the mean gradient of the batch.
                step += 1
                let scale = 1 / Double(batch.count)
                for index in gradient.indices {
                    let g = gradient[index] * scale
                    firstMoment[index] = 0.9 * firstMoment[index] + 0.1 * g
                    secondMoment[index] = 0.999 * secondMoment[index] + 0.001 * g * g
                    let corrected = firstMoment[index] / (1 - pow(0.9, Double(step)))
                    let correctedSecond = secondMoment[index] / (1 - pow(0.999, Double(step)))
                    dictionary.weights[index] -= learningRate * corrected / (correctedSecond.squareRoot() + 1e-8)
                }
                dictionary.projectOntoUnitBall(exactly: true)
            }
            let previous = objective.last
            objective.append(epochLoss)
            if let previous, abs(previous - epochLoss) <= options.tolerance * max(abs(previous), .leastNormalMagnitude) {
                converged = true
                break
            }
        }
        // Usage from a final encoding of every window.
        let encoder = UnrolledEncoder(dictionary: dictionary, steps: options.unrolledSteps,
                                      lipschitz: SparseCoder.lipschitzBound(dictionary), lambda: lambda)
        let learned = dictionary
        let usages = concurrentMap(windows.ranges.count, threads: options.threads) { window -> [Double] in
            let codes = encoder.encode(slices[window], samples: windows.ranges[window].count)
            let M = learned.codeLength(samples: windows.ranges[window].count)
            return (0..<learned.filters).map { c in codes[(c * M)..<((c + 1) * M)].reduce(0, +) }
        }
        let usage = (0..<learned.filters).map { c in usages.reduce(0) { $0 + $1[c] } }
        return DictionaryLearningResult(dictionary: DictionaryLearning.finalized(dictionary, usage: usage, sorted: options.sortsByUsage),
                                        objective: objective, iterations: objective.count, converged: converged,
                                        lambda: lambda, noiseLevel: noiseLevel)
    }
}
