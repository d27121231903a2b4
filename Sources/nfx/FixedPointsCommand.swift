import ArgumentParser
import FixedPoints
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO

struct FixedPointsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixedpoints",
        abstract: "Every fixed point of a piecewise-linear low-rank RNN, with its stability.",
        discussion: """
        The model z' = A z + N φ(M z + b) + c is read from a group holding A (R×R, or a scalar a for a·I, or a \
        vector for a diagonal), M (n×R), N (R×n), b (n), c (R) and, for clipped ReLU, clip (n); the group's \
        attribute `activation` is relu, clipped-relu or tanh. The default group is /rnn.

        --method analytic (default) walks every region of the switching arrangement: all fixed points, in time \
        polynomial in n for fixed R. --method brute tries every activation pattern (n ≤ 24 for ReLU, 15 for \
        clipped ReLU), the ground truth. --method search is random-restart Newton, which finds some.

        Examples:
          nfx fixedpoints rnn.h5
          nfx fixedpoints model.h5:/rnn --method search --restarts 5000 --json
        """
    )

    @Argument(help: ArgumentHelp("HDF5 file, optionally :GROUP holding the model (default /rnn).",
                                 valueName: "model"))
    var model: String

    @Option(help: "analytic, brute or search.")
    var method: String = FixedPointMethod.analytic.rawValue

    @Option(help: "Refuse the analytic walk when the region bound Σ_{k≤R} C(H,k) exceeds this.")
    var maxRegions: Double = 1e10

    @Option(help: "Random restarts for --method search.")
    var restarts: Int = 1000

    @Option(help: "Spread of search's random starting points (default: twice the farthest switching hyperplane).")
    var searchScale: Double?

    @OptionGroup var options: CommonOptions

    func validate() throws {
        guard FixedPointMethod(rawValue: method) != nil else {
            throw ValidationError("--method must be analytic, brute or search, got '\(method)'")
        }
        guard maxRegions >= 1 else { throw ValidationError("--max-regions must be at least 1") }
        guard restarts >= 1 else { throw ValidationError("--restarts must be at least 1") }
        if let searchScale, !(searchScale > 0) { throw ValidationError("--search-scale must be positive") }
    }

    /// "walking lines: 1200/5000" on a terminal, about 200 updates in all.
    private func progressLine(_ reporter: Reporter) -> (@Sendable (Int, Int) -> Void)? {
        guard reporter.showsProgress else { return nil }
        return { done, total in
            if done % max(1, total / 200) == 0 || done == total {
                reporter.progress("walking lines: \(done)/\(total)", done: done == total)
            }
        }
    }

    func run() throws {
        let started = Date()
        // The walk parallelises over lines itself and calls BLAS only for tiny eigenproblems: keep OpenBLAS'
        // threads from competing for the cores.
        BLASThreads.set(1)
        let spec = InputSpec(parsing: model)
        let group = spec.dataset ?? "/rnn"
        let outputPath = options.outputPath(for: spec, command: "fixedpoints")
        let output = try AtomicOutput(path: outputPath, force: options.force, inputs: [spec.path])
        let network = try RNNModelReader.read(file: spec.path, group: group)
        let reporter = options.reporter
        let chosen = FixedPointMethod(rawValue: method)!
        let hyperplanes = hyperplaneCount(network)
        let bound = regionBound(hyperplanes: hyperplanes, rank: network.rank)
        if chosen == .analytic {
            // Refuse before announcing anything, so that an error stays one line.
            guard network.activation.isPiecewiseLinear else {
                throw NFXError.usage(FixedPointError.needsPiecewiseLinear(method: "analytic").description)
            }
            guard bound <= maxRegions else {
                throw NFXError.usage(FixedPointError.tooManyRegions(bound: bound, limit: maxRegions).description)
            }
        }
        // The bound tells a user at a terminal, or reading the log of a long run, what is coming.
        if !options.quiet && chosen == .analytic && (reporter.showsProgress || bound >= 1e6) {
            FileHandle.standardError.write(Data(
                "nfx fixedpoints: \(network.units) units, rank \(network.rank), \(hyperplanes) switching hyperplanes: at most \(formatCount(bound)) regions\n".utf8))
        }

        let result: FixedPointResult
        do {
            switch chosen {
            case .analytic:
                result = try analyticFixedPoints(network, options: AnalyticOptions(
                    maxRegions: maxRegions, seed: options.seed, threads: options.threadCount, progress: progressLine(reporter)))
            case .brute:
                result = try bruteForceFixedPoints(network)
            case .search:
                result = searchFixedPoints(network, options: SearchOptions(
                    restarts: restarts, seed: options.seed, scale: searchScale, threads: options.threadCount))
            }
        } catch let error as FixedPointError {
            switch error {
            case .inconsistentModel: throw NFXError.data("\(spec.path):\(group): \(error.description)")
            default: throw NFXError.usage(error.description)
            }
        }

        var provenance = Provenance(command: "fixedpoints", seed: options.seed, started: started)
        provenance.inputFile = spec.path
        provenance.inputDataset = group
        provenance.inputShape = [network.units, network.rank]
        provenance.record("method", chosen.rawValue)
        provenance.record("max_regions", maxRegions)
        provenance.record("restarts", restarts)
        provenance.record("threads", options.threadCount)
        provenance.record("activation", network.activation.rawValue)
        provenance.record("regions_searched", result.regionsSearched)
        provenance.record("region_bound", result.regionBound)
        provenance.record("singular_regions", result.singularRegions)
        try writeOutput(output, provenance: provenance) { file in
            try FixedPointsOutput.write(result, model: network, to: file)
        }

        let counts = FixedPointsOutput.counts(result.points)
        reporter.result(FixedPointsOutput.table(result, counts: counts, seconds: provenance.wallSeconds)
                        + "→ \(outputPath)")
        if result.singularRegions > 0 {
            reporter.warning("fixedpoints", "\(result.singularRegions) regions have a singular I − J (no isolated fixed point: a line of them or none); they are not listed")
        }
        reporter.summary([
            "command": .string("fixedpoints"), "output": .string(outputPath), "method": .string(chosen.rawValue),
            "points": .integer(result.points.count), "stable": .integer(counts.stable),
            "saddles": .integer(counts.saddles), "unstable": .integer(counts.unstable),
            "marginal": .integer(counts.marginal), "regions_searched": .integer(result.regionsSearched),
            "region_bound": .number(result.regionBound), "singular_regions": .integer(result.singularRegions),
            "wall_seconds": .number(provenance.wallSeconds),
        ])
    }
}

/// Reads a low-rank RNN in the contract's layout.
enum RNNModelReader {
    static func read(file path: String, group groupPath: String) throws -> LowRankRNN {
        try InputLoader.checkReadableFile(path)
        guard HDF5File.hasSignature(path: path) else {
            throw NFXError.noInput("\(path) is not an HDF5 file; an RNN model is an HDF5 group with A, M, N, b, c")
        }
        do {
            let file = try HDF5File.open(path)
            guard file.root.kind(of: groupPath) == .group else {
                let groups = try file.walk(attributes: false).filter { $0.kind == .group }.map(\.path)
                throw NFXError.noInput("\(path) has no group \(groupPath) holding an RNN model",
                                       hint: groups.isEmpty ? "the file has no groups" : "groups in \(path): " + groups.joined(separator: ", "))
            }
            let group = try file.group(groupPath)
            func array(_ name: String) throws -> NDArray<Double> {
                guard group.contains(name) else {
                    throw NFXError.noInput("\(path):\(groupPath) has no dataset \(name)",
                                           hint: "an RNN model needs A, M, N, b and c (and clip for clipped ReLU)")
                }
                let values = try group.dataset(name).read(as: Double.self)
                guard values.elements.allSatisfy(\.isFinite) else {
                    throw NFXError.data("\(path):\(groupPath)/\(name) has NaN or infinite values")
                }
                return values
            }
            let activationName = try group.attribute("activation")?.stringValue ?? "relu"
            guard let activation = Activation(rawValue: activationName) else {
                throw NFXError.data("\(path):\(groupPath) has activation '\(activationName)'; nfx knows relu, clipped-relu and tanh")
            }
            let M = try array("M")
            guard M.rank == 2 else { throw NFXError.data("\(path):\(groupPath)/M is \(M.rank)-D; it must be n × R") }
            let R = M.shape[1]
            let N = try array("N"), A = try array("A")
            func vector(_ name: String, _ values: NDArray<Double>) throws -> [Double] {
                guard values.rank <= 1 || values.shape.dropFirst().allSatisfy({ $0 == 1 }) else {
                    throw NFXError.data("\(path):\(groupPath)/\(name) is \(describeShape(values.shape)); it must be a vector")
                }
                return values.elements
            }
            // A may be stored as a scalar a (A = a·I), a vector (diagonal) or the R × R matrix.
            var latentDecay = Matrix(rows: R, columns: R)
            if A.rank <= 1 {
                guard A.count == 1 || A.count == R else {
                    throw NFXError.data("\(path):\(groupPath)/A has \(A.count) entries; as a diagonal it needs R = \(R)")
                }
                for r in 0..<R { latentDecay[r, r] = A.elements[A.count == 1 ? 0 : r] }
            } else if A.rank == 2 {
                latentDecay = Matrix(A)
            } else {
                throw NFXError.data("\(path):\(groupPath)/A is \(A.rank)-D; it must be R × R, a vector or a scalar")
            }
            guard N.rank == 2 else { throw NFXError.data("\(path):\(groupPath)/N is \(N.rank)-D; it must be R × n") }
            let clip = group.contains("clip") ? try vector("clip", try array("clip")) : nil
            do {
                return try LowRankRNN(validating: latentDecay, M: Matrix(M), N: Matrix(N), b: try vector("b", try array("b")),
                                      c: try vector("c", try array("c")), clip: activation == .clippedRelu ? clip : nil,
                                      activation: activation)
            } catch let error as FixedPointError {
                throw NFXError.data("\(path):\(groupPath): \(error.description)")
            }
        } catch let error as HDF5Error {
            throw NFXError(error)
        }
    }
}

/// The contract's datasets for `fixedpoints`, and the printed table.
enum FixedPointsOutput {
    struct Counts { var stable = 0, saddles = 0, unstable = 0, marginal = 0 }

    static func counts(_ points: [FixedPoint]) -> Counts {
        var counts = Counts()
        for point in points {
            switch point.stability {
            case .stable: counts.stable += 1
            case .saddle: counts.saddles += 1
            case .unstable: counts.unstable += 1
            case .marginal: counts.marginal += 1
            }
        }
        return counts
    }

    static func write(_ result: FixedPointResult, model: LowRankRNN, to file: HDF5File) throws {
        let P = result.points.count, R = model.rank, n = model.units
        let root = file.root
        try root.write(result.points.flatMap(\.latent), shape: [P, R], to: "/latent")
        try root.write(result.points.flatMap(\.activity), shape: [P, n], to: "/points")
        try root.write(result.points.flatMap(\.eigenvaluesReal), shape: [P, R], to: "/eigenvalues_real")
        try root.write(result.points.flatMap(\.eigenvaluesImaginary), shape: [P, R], to: "/eigenvalues_imag")
        try root.write(result.points.map { Int8($0.stability == .stable ? 1 : 0) }, shape: [P], to: "/stable")
        try root.write(result.points.map { Int32($0.unstableDirections) }, shape: [P],
                       to: "/unstable_directions")
        try root.write(result.points.map { Int8($0.onBoundary ? 1 : 0) }, shape: [P], to: "/on_boundary")
        try root.setAttribute("fixed_points", .integer(Int64(P)))
    }

    static func table(_ result: FixedPointResult, counts: Counts, seconds: Double) -> String {
        var lines = ["\(result.points.count) fixed points (\(counts.stable) stable, \(counts.saddles) saddles, \(counts.unstable) unstable"
            + (counts.marginal > 0 ? ", \(counts.marginal) marginal" : "") + ") by \(result.method.rawValue), "
            + "\(result.regionsSearched) \(result.method == .search ? "Newton solves" : "regions") examined"
            + (result.regionBound.isFinite ? " (bound \(formatCount(result.regionBound)))" : "")
            + String(format: ", %.2f s", seconds)]
        guard !result.points.isEmpty else { return lines.joined(separator: "\n") + "\n" }
        lines.append("   #  latent z" + String(repeating: " ", count: max(0, 12 * (result.points[0].latent.count) - 8))
                     + "  class                 max |λ|")
        for (index, point) in result.points.prefix(50).enumerated() {
            let latent = point.latent.map { String(format: "%11.5g", $0) }.joined(separator: " ")
            let moduli = zip(point.eigenvaluesReal, point.eigenvaluesImaginary).map { ($0 * $0 + $1 * $1).squareRoot() }
            let kind = point.stability.description + (point.onBoundary ? ", on boundary" : "")
            lines.append(String(format: "%4d  ", index + 1) + latent + "  "
                         + kind.padding(toLength: 22, withPad: " ", startingAt: 0)
                         + String(format: "%.4f", moduli.max() ?? .nan))
        }
        if result.points.count > 50 { lines.append("   … \(result.points.count - 50) more in the output file") }
        return lines.joined(separator: "\n") + "\n"
    }
}
