import Foundation
import LinearAlgebra

/// ZCA ("zero-phase") spatial whitening, as SpikeInterface's `whiten(recording)` with its defaults
/// (`mode="global"`, `apply_mean=False`, `eps=None`, no regularisation): from the channels' second-moment matrix
/// C = X·Xᵀ / n = U·diag(s)·Uᵀ, the whitening matrix is W = U·diag(1/√(s + ε))·Uᵀ, and every sample x becomes
/// W·x. Of all the matrices that whiten, ZCA's is the one that changes the data least (A. J. Bell and
/// T. J. Sejnowski, "The 'independent components' of natural scenes are edge filters", Vision Research 37, 1997),
/// so each channel stays mostly itself and spikes keep their place on the probe.
///
/// - Like SpikeInterface, the mean is not removed by default (after band-pass filtering it is ≈ 0 anyway); with
///   `subtractMean: true` the per-channel mean is removed before the covariance and before applying W.
/// - ε: SpikeInterface's rule when none is given: 10⁻³ × the median of x² over the sampled data when that median is
///   in (0, 1) (data scaled to tiny units, where a fixed ε would swamp the eigenvalues), otherwise 10⁻¹⁶. Eigenvalues
///   that rounding makes slightly negative count as 0.
/// - The covariance is measured on `SampleChunks.evenlySpaced` (SpikeInterface: the same amount, at random
///   positions), so it is deterministic and its cost does not grow with the recording's length.
/// - One channel: the same formula scales it to unit second moment.
public struct SpatialWhitening: Sendable, Equatable {
    /// W, channels × channels, symmetric.
    public let matrix: Matrix
    /// W⁻¹ = U·diag(√(s + ε))·Uᵀ, to take whitened templates back to the recording's units.
    public let inverse: Matrix
    /// The per-channel mean removed before W, when `subtractMean` was asked for.
    public let mean: [Double]?
    public let epsilon: Double

    public var channels: Int { matrix.rows }

    /// Estimates W from a channels × samples row-major recording.
    public init(fitting recording: [Double], channels: Int, samples: Int, epsilon: Double? = nil,
                subtractMean: Bool = false) throws {
        precondition(channels >= 0 && samples >= 0 && recording.count == channels * samples,
                     "SpatialWhitening: \(recording.count) values for \(channels) × \(samples)")
        guard channels > 0, samples > 0 else {
            throw SpikeSortingError.invalidRecording("whitening needs at least one channel and one sample, got "
                                                     + "\(channels) × \(samples)")
        }
        if let epsilon, !(epsilon >= 0 && epsilon.isFinite) {
            throw SpikeSortingError.invalidOption(flag: "--whitening-epsilon",
                                                  message: "the whitening ε must be ≥ 0, got \(epsilon)")
        }
        let chunks = SampleChunks.evenlySpaced(samples: samples)
        let used = chunks.reduce(0) { $0 + $1.count }

        var mean: [Double]? = nil
        if subtractMean {
            mean = (0..<channels).map { channel in
                let row = channel * samples
                var sum = 0.0
                for chunk in chunks { for t in chunk { sum += recording[row + t] } }
                return sum / Double(used)
            }
        }

        // C = Σ over chunks of X_chunk·X_chunkᵀ / n, each chunk read in place as a column block (leading
        // dimension = samples), or from a centred copy when the mean is removed.
        var covariance = Matrix(rows: channels, columns: channels)
        for chunk in chunks {
            if let mean {
                var centred = [Double](repeating: 0, count: channels * chunk.count)
                for channel in 0..<channels {
                    for (offset, t) in chunk.enumerated() {
                        centred[channel * chunk.count + offset] = recording[channel * samples + t] - mean[channel]
                    }
                }
                try Self.accumulateGram(of: centred, rows: channels, columns: chunk.count, leadingDimension: chunk.count,
                                        offset: 0, into: &covariance)
            } else {
                try Self.accumulateGram(of: recording, rows: channels, columns: chunk.count,
                                        leadingDimension: samples, offset: chunk.lowerBound, into: &covariance)
            }
        }
        for i in 0..<channels {
            for j in 0..<channels { covariance[i, j] /= Double(used) }
            // GEMM's two triangles can differ in the last bit; symmetricEigen requires exact symmetry.
            for j in 0..<i { covariance[i, j] = covariance[j, i] }
        }

        let epsilonUsed = epsilon ?? Self.defaultEpsilon(recording, channels: channels, samples: samples,
                                                          chunks: chunks, mean: mean)
        let (values, vectors) = try symmetricEigen(covariance)
        let clipped = values.map { max($0, 0) + epsilonUsed }
        matrix = try Self.reassemble(vectors, scales: clipped.map { 1 / $0.squareRoot() })
        inverse = try Self.reassemble(vectors, scales: clipped.map { $0.squareRoot() })
        self.mean = mean
        self.epsilon = epsilonUsed
    }

    /// Replaces every sample x of a channels × samples row-major recording by W·(x − mean), in place, as one GEMM
    /// per block of 16,384 samples (the block's result is written back before the next block is read).
    public func apply(to recording: inout [Double], channels: Int, samples: Int) throws {
        precondition(recording.count == channels * samples,
                     "SpatialWhitening.apply: \(recording.count) values for \(channels) × \(samples)")
        guard channels == self.channels else {
            throw SpikeSortingError.invalidRecording(
                "the whitening matrix is for \(self.channels) channels, the recording has \(channels)")
        }
        guard samples > 0 else { return }
        if let mean {
            for channel in 0..<channels {
                let row = channel * samples
                for t in 0..<samples { recording[row + t] -= mean[channel] }
            }
        }
        let blockLength = min(samples, 16_384)
        var block = [Double](repeating: 0, count: channels * blockLength)
        try matrix.elements.withUnsafeBufferPointer { w in
            try recording.withUnsafeMutableBufferPointer { x in
                try block.withUnsafeMutableBufferPointer { out in
                    var start = 0
                    while start < samples {
                        let width = min(blockLength, samples - start)
                        try gemm(transposeA: false, transposeB: false, rows: channels, columns: width, inner: channels,
                                 alpha: 1, w.baseAddress!, leadingDimensionA: channels,
                                 x.baseAddress! + start, leadingDimensionB: samples,
                                 beta: 0, out.baseAddress!, leadingDimensionC: width)
                        for channel in 0..<channels {
                            (x.baseAddress! + channel * samples + start)
                                .update(from: out.baseAddress! + channel * width, count: width)
                        }
                        start += width
                    }
                }
            }
        }
    }

    /// `apply` on a copy.
    public func applied(to recording: [Double], channels: Int, samples: Int) throws -> [Double] {
        var copy = recording
        try apply(to: &copy, channels: channels, samples: samples)
        return copy
    }

    /// `matrix` (channels × channels, e.g. `matrix` or `inverse`) applied to every sample of every waveform of
    /// `waveforms` (count × channels × length): whitens or un-whitens templates.
    public static func mixingChannels(_ matrix: Matrix, of waveforms: [Double], count: Int, length: Int) -> [Double] {
        let channels = matrix.rows
        precondition(matrix.columns == channels && waveforms.count == count * channels * length,
                     "SpatialWhitening.mixingChannels: \(waveforms.count) values for \(count) × \(channels) × \(length)")
        var out = [Double](repeating: 0, count: waveforms.count)
        for unit in 0..<count {
            for row in 0..<channels {
                for column in 0..<channels {
                    let weight = matrix[row, column]
                    guard weight != 0 else { continue }
                    let target = (unit * channels + row) * length, source = (unit * channels + column) * length
                    for t in 0..<length { out[target + t] += weight * waveforms[source + t] }
                }
            }
        }
        return out
    }

    // MARK: Helpers

    /// C += A·Aᵀ for the rows × columns block of `data` starting at `offset` with row stride `leadingDimension`.
    private static func accumulateGram(of data: [Double], rows: Int, columns: Int, leadingDimension: Int,
                                       offset: Int, into gram: inout Matrix) throws {
        try data.withUnsafeBufferPointer { a in
            try gram.elements.withUnsafeMutableBufferPointer { c in
                try gemm(transposeA: false, transposeB: true, rows: rows, columns: rows, inner: columns, alpha: 1,
                         a.baseAddress! + offset, leadingDimensionA: leadingDimension,
                         a.baseAddress! + offset, leadingDimensionB: leadingDimension,
                         beta: 1, c.baseAddress!, leadingDimensionC: rows)
            }
        }
    }

    /// U·diag(scales)·Uᵀ, exactly symmetric.
    private static func reassemble(_ vectors: Matrix, scales: [Double]) throws -> Matrix {
        var scaled = vectors
        for i in 0..<vectors.rows {
            for k in 0..<vectors.columns { scaled[i, k] *= scales[k] }
        }
        var product = try multiply(scaled, vectors, transposeB: true)
        for i in 0..<product.rows {
            for j in 0..<i { product[i, j] = product[j, i] }
        }
        return product
    }

    /// SpikeInterface's default ε (see the type's comment). The median of x² is taken over at most ~10⁶ of the
    /// sampled values (every k-th), which pins it far more finely than the 10⁻³ factor needs.
    private static func defaultEpsilon(_ recording: [Double], channels: Int, samples: Int, chunks: [Range<Int>],
                                       mean: [Double]?) -> Double {
        let used = chunks.reduce(0) { $0 + $1.count } * channels
        let stride = max(1, used / 1_000_000)
        var squares: [Double] = []
        squares.reserveCapacity(used / stride + 1)
        var counter = 0
        for channel in 0..<channels {
            let shift = mean?[channel] ?? 0
            for chunk in chunks {
                for t in chunk {
                    if counter % stride == 0 {
                        let value = recording[channel * samples + t] - shift
                        squares.append(value * value)
                    }
                    counter += 1
                }
            }
        }
        guard !squares.isEmpty else { return 1e-16 }
        let medianSquare = squares.withUnsafeMutableBufferPointer {
            CommonMedianReference.median($0.baseAddress!, count: $0.count)
        }
        return medianSquare > 0 && medianSquare < 1 ? max(1e-16, medianSquare * 1e-3) : 1e-16
    }
}
