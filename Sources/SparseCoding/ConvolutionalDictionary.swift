import NFXCore

/// A bank of multichannel filters h_c (filters × channels × length, row-major), the dictionary of convolutional
/// sparse coding: a recording y (channels × samples) is modelled as Σ_c h_c ∗ x_c with sparse codes x_c.
///
/// Codes live on the "valid" positions: x_c[s] places filter c's first sample at sample s, so a recording of
/// N samples has N − length + 1 code positions per filter and every placed filter lies inside the recording.
public struct ConvolutionalDictionary: Sendable, Equatable {
    public let filters: Int
    public let channels: Int
    public let length: Int
    /// filters × channels × length.
    public var weights: [Double]

    public init(filters: Int, channels: Int, length: Int, weights: [Double]) {
        precondition(filters >= 1 && channels >= 1 && length >= 1, "ConvolutionalDictionary: empty shape")
        precondition(weights.count == filters * channels * length,
                     "ConvolutionalDictionary: \(weights.count) weights for \(filters) × \(channels) × \(length)")
        self.filters = filters
        self.channels = channels
        self.length = length
        self.weights = weights
    }

    /// Number of code positions for a recording of `samples` samples.
    public func codeLength(samples: Int) -> Int { max(0, samples - length + 1) }

    /// Filter c, channel k, as a contiguous slice of `weights`.
    @inline(__always)
    func offset(filter c: Int, channel k: Int) -> Int { (c * channels + k) * length }

    /// The Euclidean norm of each filter over all its channels.
    public var norms: [Double] {
        (0..<filters).map { c in
            weights[(c * channels * length)..<((c + 1) * channels * length)].reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
    }

    /// Scales every filter with norm above 1 back onto the unit sphere (the CDL constraint ‖h_c‖ ≤ 1), and
    /// with `exactly`, every non-zero filter to norm 1.
    public mutating func projectOntoUnitBall(exactly: Bool = false) {
        let size = channels * length
        for (c, norm) in norms.enumerated() where norm > 1 || (exactly && norm > 0) {
            for index in (c * size)..<((c + 1) * size) { weights[index] /= norm }
        }
    }
}
