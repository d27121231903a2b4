import ArgumentParser
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXIO

/// The options every analysis shares (contract: "Common options on every analysis").
struct CommonOptions: ParsableArguments {
    @Option(name: [.short, .customLong("out")],
            help: ArgumentHelp("Output HDF5 file (default: <input stem>.<command>.h5 beside the input).",
                               valueName: "path"))
    var out: String?

    @Flag(help: "Overwrite the output file if it exists.")
    var force = false

    @Option(help: "Random seed: the same seed gives the same result.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Threads to use (default: all cores).", valueName: "n"))
    var threads: Int?

    @Flag(help: "Print one JSON summary line on stdout instead of the human summary.")
    var json = false

    @Flag(help: "Print nothing but errors (and the --json line).")
    var quiet = false

    func validate() throws {
        if seed > UInt64(Int64.max) {
            throw ValidationError("--seed must be between 0 and \(Int64.max), got \(seed)")
        }
        if let out, out.isEmpty || out.hasSuffix("/") {
            throw ValidationError("-o/--out must name a file, got '\(out)'")
        }
        if let threads, threads < 1 {
            throw ValidationError("--threads must be at least 1, got \(threads)")
        }
    }

    var reporter: Reporter { Reporter(quiet: quiet, json: json) }

    /// Cores to use: --threads, else all of them.
    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// The output path: -o, else `defaultName` beside `besidePath` (or in the working directory).
    func outputPath(defaultName: String, beside besidePath: String? = nil) -> String {
        if let out { return out }
        guard let besidePath else { return defaultName }
        return URL(fileURLWithPath: besidePath).deletingLastPathComponent().appendingPathComponent(defaultName).path
    }

    /// Default output name for an analysis: `<input stem>.<command>.h5` beside the input.
    func outputPath(for input: InputSpec, command: String) -> String {
        let stem = URL(fileURLWithPath: input.path).deletingPathExtension().lastPathComponent
        return outputPath(defaultName: "\(stem).\(command).h5", beside: input.path)
    }
}

/// The input argument and its orientation flags, for analyses that read a recording.
struct InputArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("PATH or PATH:DATASET (HDF5/NWB or .npy).", valueName: "input"))
    var input: String

    @Flag(help: "The data is stored time × units: transpose it (automatic inside NWB TimeSeries).")
    var timeFirst = false

    @Flag(help: "The data is stored units × time: never transpose, even inside NWB TimeSeries.")
    var timeLast = false

    func validate() throws {
        if timeFirst && timeLast { throw ValidationError("--time-first and --time-last cannot both be given") }
    }

    var spec: InputSpec { InputSpec(parsing: input) }
    var timeAxis: TimeAxis { timeFirst ? .first : timeLast ? .last : .automatic }
}
