import Foundation
import NFXCore

/// CRsAE training: the filters are the weights of the unrolled encoder and its decoder; Adam steps them along the
/// gradient of the CDL objective through the encoder, on shuffled minibatches of windows, and every filter is
/// projected to unit norm after every step.
///
/// Each window's encoder starts from that window's codes at its previous visit (0 at the first): the codes keep
/// converging across epochs while the filters move, so a few dozen unrolled steps per visit do the work of the
/// hundreds a cold start needs before its gradient stops being biased (on the benchmark's 60 s recordings,
/// Scripts/bench/cdl.py: a cold 30-step encoder stalled at a worst-unit match of 0.98, a warm one reaches 0.9998).
enum CRsAETraining {
    static let learningRate = 0.01
    static let batchWindows = 8

    static func learn(_ y: [Double], channels K: Int, samples N: Int, start: ConvolutionalDictionary,
                      windows: Windows, lambda: Double, options: DictionaryLearningOptions,
                      noiseLevel: Double, progress: ((DictionaryLearningProgress) -> Void)? = nil)
        -> DictionaryLearningResult {
        var dictionary = start
        var generator = SeededGenerator(seed: options.seed).split(stream: 1)
        var optimizer = FilterAdam(filters: dictionary.filters, filterSize: dictionary.channels * dictionary.length,
                                   learningRate: learningRate)
        var codes = [SparseCodes](repeating: SparseCodes(), count: windows.ranges.count)
        var objective: [Double] = []
        var converged = false
        for _ in 0..<options.maxIterations {
            var order = Array(0..<windows.ranges.count)
            generator.shuffle(&order)
            var epochLoss = 0.0
            for batchStart in stride(from: 0, to: order.count, by: batchWindows) {
                let batch = Array(order[batchStart..<min(order.count, batchStart + batchWindows)])
                let encoder = UnrolledEncoder(dictionary: dictionary, steps: options.unrolledSteps,
                                              lipschitz: SparseCoder.lipschitzBound(dictionary), lambda: lambda,
                                              nonnegative: options.nonnegative)
                let starts = batch.map { codes[$0] }
                let parts = concurrentMap(batch.count, threads: options.threads) { position in
                    let window = batch[position]
                    return encoder.lossAndGradient(windows.slice(y, channels: K, samples: N, window),
                                                   samples: windows.ranges[window].count, start: starts[position])
                }
                var gradient = [Double](repeating: 0, count: dictionary.weights.count)
                for (position, part) in parts.enumerated() {
                    epochLoss += part.loss
                    codes[batch[position]] = part.codes
                    for index in gradient.indices { gradient[index] += part.gradient[index] }
                }
                let scale = 1 / Double(batch.count)
                for index in gradient.indices { gradient[index] *= scale }
                optimizer.step(&dictionary.weights, gradient: gradient)
                dictionary.projectOntoUnitBall(exactly: true)
                progress?(DictionaryLearningProgress(iteration: objective.count + 1,
                                                     fractionDone: Double(batchStart + batch.count) / Double(order.count),
                                                     objective: objective.last))
            }
            objective.append(epochLoss)
            if DictionaryLearning.hasConverged(objective, tolerance: options.tolerance) {
                converged = true
                break
            }
        }
        // Usage from every window's last codes.
        return DictionaryLearningResult(dictionary: DictionaryLearning.finalized(dictionary, codes: codes,
                                                                                 sorted: options.sortsByUsage),
                                        objective: objective, iterations: objective.count, converged: converged,
                                        lambda: lambda, noiseLevel: noiseLevel)
    }
}

/// Adam (Kingma & Ba 2015) with one second-moment estimate per filter instead of per weight, as NovoGrad
/// (Ginsburg et al. 2019) keeps one per layer. Why: per weight, Adam divides each tap's gradient by its own
/// magnitude, so the near-silent taps around a spike get steps as large as its trough and fill with noise; per
/// filter, a step keeps the gradient's shape within each filter and only its scale is normalised (on the issue's
/// 60 s recordings, per-weight Adam at this rate drifted to a worst-unit match of 0.93).
struct FilterAdam {
    let filterSize: Int
    let learningRate: Double
    let firstDecay = 0.9, secondDecay = 0.999, epsilon = 1e-8
    private var firstMoment: [Double]
    private var secondMoment: [Double]
    private var stepCount = 0

    init(filters: Int, filterSize: Int, learningRate: Double) {
        self.filterSize = filterSize
        self.learningRate = learningRate
        firstMoment = [Double](repeating: 0, count: filters * filterSize)
        secondMoment = [Double](repeating: 0, count: filters)
    }

    mutating func step(_ weights: inout [Double], gradient: [Double]) {
        stepCount += 1
        let firstCorrection = 1 - pow(firstDecay, Double(stepCount))
        let secondCorrection = 1 - pow(secondDecay, Double(stepCount))
        for filter in secondMoment.indices {
            let range = (filter * filterSize)..<((filter + 1) * filterSize)
            let meanSquare = gradient[range].reduce(0) { $0 + $1 * $1 } / Double(filterSize)
            secondMoment[filter] = secondDecay * secondMoment[filter] + (1 - secondDecay) * meanSquare
            let denominator = (secondMoment[filter] / secondCorrection).squareRoot() + epsilon
            for index in range {
                firstMoment[index] = firstDecay * firstMoment[index] + (1 - firstDecay) * gradient[index]
                weights[index] -= learningRate * (firstMoment[index] / firstCorrection) / denominator
            }
        }
    }
}
