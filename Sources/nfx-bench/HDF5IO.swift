import Foundation
import HDF5Kit
import NFXCore

struct HDF5ReadResult: Encodable {
    let mode = "h5read"
    let file: String
    let dataset: String
    let shape: [Int]
    /// Open, read the whole dataset as Float64, close.
    let seconds: Double
    let checksumSum: Double
    let checksumSumOfSquares: Double
}

func measureHDF5Read(path: String, dataset name: String) throws -> HDF5ReadResult {
    var array: NDArray<Double>?
    let elapsed = try seconds {
        let file = try HDF5File.open(path)
        array = try file.dataset(name).read(as: Double.self)
        try file.close()
    }
    let values = array!
    let sums = values.elements.withUnsafeBufferPointer(checksums)
    return HDF5ReadResult(file: path, dataset: name, shape: values.shape, seconds: elapsed,
                          checksumSum: sums.sum, checksumSumOfSquares: sums.sumOfSquares)
}

/// The benchmark's write payload: a scaled sine per row plus a small periodic pattern, so gzip has real work.
/// Scripts/bench/foundation.py computes the same values (`math.sin` is the same libm `sin`, and the remaining
/// operations are single correctly rounded IEEE operations), so it can demand an exact match.
func writePayload(rows: Int, columns: Int) -> [Double] {
    let waves = (0..<columns).map { sin(0.001 * Double($0)) }
    var values = [Double](repeating: 0, count: rows * columns)
    for i in 0..<rows {
        let gain = Double(1 + i % 7)
        for j in 0..<columns {
            values[i * columns + j] = waves[j] * gain + Double((i * 31 + j * 17) % 101) / 128
        }
    }
    return values
}

struct HDF5WriteResult: Encodable {
    let mode = "h5write"
    let file: String
    let shape: [Int]
    /// Create the file, write /data with the automatic layout, close (flushes to the page cache, no fsync).
    let seconds: Double
    let chunks: [Int]?
    let filters: [String]
    let fileBytes: Int
}

func measureHDF5Write(path: String, rows: Int, columns: Int) throws -> HDF5WriteResult {
    let values = writePayload(rows: rows, columns: columns)
    let elapsed = try seconds {
        let file = try HDF5File.create(path, overwrite: true)
        try file.root.write(values, shape: [rows, columns], to: "/data")
        try file.close()
    }
    let file = try HDF5File.open(path)
    let storage = try file.dataset("/data").storageInfo
    try file.close()
    let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? -1
    return HDF5WriteResult(file: path, shape: [rows, columns], seconds: elapsed, chunks: storage.chunks,
                           filters: storage.filters, fileBytes: size)
}
