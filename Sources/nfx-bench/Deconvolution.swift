import Deconvolution
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore

struct DeconvolutionTiming: Encodable {
    let mode = "deconvolve"
    /// Median over the repeats, of the deconvolution alone.
    let seconds: Double
    let runs: [Double]
    let neurons: Int
    let frames: Int
    let threads: Int
    /// Σ of every inferred spike, so the Python side can check it ran the same problem.
    let spikeTotal: Double
    /// True for the bare solver (given g, σ, baseline, λ = 0); false for the full pipeline.
    let solverOnly: Bool
}

/// `nfx-bench deconvolve FILE DATASET …`: the deconvolution of every row, timed in-process without the HDF5 read
/// and write that `nfx deconvolve`'s wall_seconds include, so that it compares with OASIS timed inside Python.
/// `--g G` times the bare solver (σ 0.3, baseline 0, λ 0: `oasisAR1(y, g)`); without it, the full pipeline.
func measureDeconvolution(path: String, dataset: String, g: Double?, threads: Int, repeats: Int) throws
    -> DeconvolutionTiming {
    let data = try HDF5File.open(path).dataset(dataset).read(as: Double.self)
    guard data.rank == 2 else { throw UsageError("\(dataset) must be neurons × frames") }
    let options = g.map { DeconvolutionOptions(g: [$0], sigma: 0.3, baseline: 0, lambda: 0) } ?? DeconvolutionOptions()
    BLASThreads.set(1)
    var times: [Double] = []
    var spikeTotal = 0.0
    for _ in 0..<repeats {
        var results: [DeconvolvedTrace] = []
        times.append(seconds {
            results = Deconvolution.deconvolve(rows: data.shape[0], frames: data.shape[1], values: data.elements,
                                               options: options, threads: threads)
        })
        spikeTotal = results.reduce(0) { $0 + $1.spikes.reduce(0) { $0 + ($1.isNaN ? 0 : $1) } }
    }
    return DeconvolutionTiming(seconds: median(times), runs: times, neurons: data.shape[0], frames: data.shape[1],
                               threads: threads, spikeTotal: spikeTotal, solverOnly: g != nil)
}
