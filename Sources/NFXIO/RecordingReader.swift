import Foundation
import HDF5Kit
import NFXCore

/// A channels × samples recording read one stretch of time at a time, so that a recording longer than memory can
/// be processed: HDF5 datasets are read as hyperslabs (a block of columns of a channels × time dataset, a block of
/// rows of a time × channels one), converted (NWB `conversion`, `offset`, `channel_conversion`) and transposed
/// like `InputLoader` does for the whole dataset. A .npy file is read whole, once, and served from memory.
public final class RecordingReader {
    public let file: String
    /// The dataset's path inside an HDF5 file; empty for .npy.
    public let dataset: String
    /// FILE:DATASET (or FILE for .npy), for messages.
    public let name: String
    public let channels: Int
    public let samples: Int
    public let fileAttributes: [String: HDF5AttributeValue]
    public let format: LoadedInput.Format
    /// Whether the data is stored time × channels (and transposed on read).
    public let transposed: Bool
    public let storedShape: [Int]
    private let source: InputLoader.HDF5Source?
    private let whole: NDArray<Double>?

    /// Opens `spec` as a 2-D channels × samples recording, choosing the dataset and orientation as
    /// `InputLoader.load` does (so the same errors and exit codes), without reading the data.
    public init(_ spec: InputSpec, requirements: InputRequirements) throws {
        precondition(requirements.rank == 2, "RecordingReader reads channels × samples recordings")
        file = spec.path
        try InputLoader.checkReadableFile(spec.path)
        switch try InputLoader.format(of: spec.path) {
        case .npy:
            let loaded = try InputLoader.load(spec, requirements: requirements)
            (name, dataset, channels, samples) = (loaded.name, "", loaded.array.shape[0], loaded.array.shape[1])
            (fileAttributes, format, transposed, storedShape) = ([:], .npy, loaded.transposed, loaded.storedShape)
            (source, whole) = (nil, loaded.array)
        case .hdf5:
            do {
                let source = try InputLoader.HDF5Source(spec, requirements: requirements)
                let shape = source.dataset.shape
                // The orientation check needs only the shape: an empty array of it stands in for the data.
                let (_, transposed) = try InputLoader.orient(NDArray(shape: shape.map { _ in 0 }, elements: []),
                                                             name: source.name,
                                                             timeFirstByDefault: source.isTimeSeries,
                                                             requirements: requirements)
                guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
                    throw NFXError.data("\(source.name) is empty (\(describeShape(shape)))")
                }
                (name, dataset) = (source.name, source.datasetPath)
                (channels, samples) = transposed ? (shape[1], shape[0]) : (shape[0], shape[1])
                fileAttributes = try source.fileAttributes()
                (format, self.transposed, storedShape) = (.hdf5, transposed, shape)
                (self.source, whole) = (source, nil)
            } catch let error as HDF5Error {
                throw NFXError(error)
            }
        }
    }

    /// Samples `range` of every channel, channels × range.count row-major, in the data's physical units.
    /// Throws a data error naming the stretch when it holds a NaN or an infinite value.
    public func read(_ range: Range<Int>) throws -> [Double] {
        precondition(range.lowerBound >= 0 && range.upperBound <= samples, "RecordingReader: \(range) of \(samples)")
        var values: [Double]
        if let whole {
            values = [Double](repeating: 0, count: channels * range.count)
            for k in 0..<channels {
                for t in range { values[k * range.count + t - range.lowerBound] = whole.elements[k * samples + t] }
            }
        } else if let source {
            do {
                var block = transposed
                    ? try source.dataset.readSlab([range, 0..<channels], as: Double.self)
                    : try source.dataset.readSlab([0..<channels, range], as: Double.self)
                try InputLoader.applyNWBConversion(&block, dataset: source.dataset, parent: source.parent,
                                                   isElectricalSeries: source.isElectricalSeries)
                values = transposed ? block.reversedAxes().elements : block.elements
            } catch let error as HDF5Error {
                throw NFXError(error)
            }
        } else {
            preconditionFailure("RecordingReader has neither a file nor data")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            let sample = range.lowerBound + bad % range.count
            throw NFXError.data("\(name) has a \(values[bad].isNaN ? "NaN" : "infinite") value at channel \(bad / range.count), sample \(sample), which this command cannot use",
                                hint: "fill or drop the missing entries first")
        }
        return values
    }
}
