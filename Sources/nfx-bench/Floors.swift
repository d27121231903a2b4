import LinearAlgebra

/// Inputs made of small multiples of 1/8: every product and partial sum of a 2000 × 2000 GEMM is exact in
/// Float64, so any correct BLAS (ours or numpy's) gives bit-identical C and the checksums must agree exactly.
/// Scripts/bench/foundation.py builds the same matrices.
func dgemmInputs(size: Int) -> (Matrix, Matrix) {
    var a = Matrix(rows: size, columns: size), b = Matrix(rows: size, columns: size)
    for i in 0..<size {
        for j in 0..<size {
            a[i, j] = Double((i * 7 + j * 13) % 17 - 8) / 8
            b[i, j] = Double((i * 5 + j * 11) % 19 - 9) / 8
        }
    }
    return (a, b)
}

struct DGEMMResult: Encodable {
    let mode = "dgemm"
    let n: Int
    let threads: Int
    let repeats: Int
    let seconds: [Double]
    let medianSeconds: Double
    let gflops: Double
    let checksumSum: Double
    let checksumSumOfSquares: Double
    let openblas: String
}

/// GFLOP/s of one n × n × n `multiply` (2n³ flops), median over `repeats` after one untimed warm-up call
/// that lets OpenBLAS start its threads and fault in its buffers.
func measureDGEMM(size: Int, threads: Int, repeats: Int) throws -> DGEMMResult {
    BLASThreads.set(threads)
    let (a, b) = dgemmInputs(size: size)
    var product = try multiply(a, b)
    var times: [Double] = []
    for _ in 0..<repeats {
        times.append(try seconds { product = try multiply(a, b) })
    }
    let sums = product.elements.withUnsafeBufferPointer(checksums)
    let middle = median(times)
    return DGEMMResult(n: size, threads: BLASThreads.count, repeats: repeats, seconds: times,
                       medianSeconds: middle, gflops: 2 * Double(size * size * size) / middle / 1e9,
                       checksumSum: sums.sum, checksumSumOfSquares: sums.sumOfSquares,
                       openblas: BLASThreads.configuration)
}

struct BandwidthResult: Encodable {
    let mode = "bandwidth"
    let megabytes: Int
    let repeats: Int
    let readSeconds: [Double]
    let copySeconds: [Double]
    /// Bytes read per second (1 GB = 10⁹ bytes).
    let readGBps: Double
    /// Bytes read plus bytes written per second, as STREAM counts a copy.
    let copyGBps: Double
    let checksumSum: Double
}

/// Reads with four independent 8-wide accumulators: a single scalar accumulator would wait on each add's
/// latency and measure the adder, not the memory.
func streamingSum(_ values: UnsafeBufferPointer<Double>) -> Double {
    typealias Vector = SIMD8<Double>
    let base = UnsafeRawPointer(values.baseAddress!)
    let width = Vector.scalarCount, step = 4 * width
    var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
    var index = 0
    while index + step <= values.count {
        let offset = index * MemoryLayout<Double>.stride
        s0 += base.loadUnaligned(fromByteOffset: offset, as: Vector.self)
        s1 += base.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self)
        s2 += base.loadUnaligned(fromByteOffset: offset + 128, as: Vector.self)
        s3 += base.loadUnaligned(fromByteOffset: offset + 192, as: Vector.self)
        index += step
    }
    var total = ((s0 + s1) + (s2 + s3)).sum()
    while index < values.count {
        total += values[index]
        index += 1
    }
    return total
}

/// Read and copy bandwidth of a buffer far larger than the caches. The values are multiples of 1/1024, so the
/// sum is exact in any order and is reported (it both keeps the reads alive and matches numpy's `a.sum()`).
func measureBandwidth(megabytes: Int, repeats: Int) -> BandwidthResult {
    let count = megabytes << 20 / MemoryLayout<Double>.stride
    let bytes = Double(count * MemoryLayout<Double>.stride)
    let source = (0..<count).map { Double($0 % 1024) / 1024 }
    var destination = [Double](repeating: 0, count: count)
    var sum = 0.0
    var readTimes: [Double] = [], copyTimes: [Double] = []
    source.withUnsafeBufferPointer { source in
        destination.withUnsafeMutableBufferPointer { destination in
            sum = streamingSum(source)
            for _ in 0..<repeats {
                readTimes.append(seconds { sum = streamingSum(source) })
                copyTimes.append(seconds { _ = destination.update(fromContentsOf: source) })
            }
        }
    }
    precondition(destination.last == source.last, "bandwidth: copy did not arrive")
    return BandwidthResult(megabytes: megabytes, repeats: repeats, readSeconds: readTimes, copySeconds: copyTimes,
                           readGBps: bytes / median(readTimes) / 1e9, copyGBps: 2 * bytes / median(copyTimes) / 1e9,
                           checksumSum: sum)
}
