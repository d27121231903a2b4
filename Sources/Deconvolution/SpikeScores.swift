/// How well inferred spikes match true ones, by the conventions calcium-imaging papers use.
public struct SpikeScores: Sendable, Equatable {
    /// Pearson correlation of inferred and true spikes per frame.
    public var frameCorrelation: Double
    /// Pearson correlation after summing both into bins (spikefinder: 40 ms bins from the first frame, no lag;
    /// Berens et al. 2018).
    public var binnedCorrelation: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var trueEvents: Int
    public var detectedEvents: Int

    /// Scores one neuron. Frames where either side is NaN are left out. An event is a frame with a true spike, or
    /// with inferred activity ≥ `threshold`; a detected event matches an unmatched true one at most `tolerance`
    /// frames away (the same frame first, then earlier, then later).
    public static func score(inferred: [Double], truth: [Double], framesPerBin: Double, threshold: Double,
                             tolerance: Int = 1) -> SpikeScores {
        let frames = min(inferred.count, truth.count)
        let valid = (0..<frames).filter { !inferred[$0].isNaN && !truth[$0].isNaN }
        let frameCorrelation = pearson(valid.map { inferred[$0] }, valid.map { truth[$0] })

        let binCount = Int((Double(frames) / framesPerBin).rounded(.up))
        var binnedInferred = [Double](repeating: 0, count: max(binCount, 1)), binnedTruth = binnedInferred
        for t in valid {
            let bin = min(binnedInferred.count - 1, Int(Double(t) / framesPerBin))
            binnedInferred[bin] += inferred[t]
            binnedTruth[bin] += truth[t]
        }
        let binnedCorrelation = pearson(binnedInferred, binnedTruth)

        let trueFrames = valid.filter { truth[$0] > 0 }
        var detected = Set(valid.filter { inferred[$0] >= threshold })
        let detectedCount = detected.count
        var matches = 0
        for t in trueFrames {
            for offset in [0] + (1...max(1, tolerance)).flatMap({ [-$0, $0] }) where abs(offset) <= tolerance {
                if detected.remove(t + offset) != nil {
                    matches += 1
                    break
                }
            }
        }
        let precision = detectedCount == 0 ? 0 : Double(matches) / Double(detectedCount)
        let recall = trueFrames.isEmpty ? 0 : Double(matches) / Double(trueFrames.count)
        let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        return SpikeScores(frameCorrelation: frameCorrelation, binnedCorrelation: binnedCorrelation,
                           precision: precision, recall: recall, f1: f1, trueEvents: trueFrames.count,
                           detectedEvents: detectedCount)
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count > 1 else { return .nan }
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        var ab = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) {
            ab += (x - ma) * (y - mb)
            aa += (x - ma) * (x - ma)
            bb += (y - mb) * (y - mb)
        }
        return aa > 0 && bb > 0 ? ab / (aa * bb).squareRoot() : .nan
    }
}
