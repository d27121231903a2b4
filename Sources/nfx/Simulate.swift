import ArgumentParser
import Foundation
import HDF5Kit
import LinearAlgebra
import NFXCore
import NFXIO
import Simulation
import FixedPoints

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write ground-truth data for every analysis.",
        discussion: """
        Each kind writes /data (the input an analysis reads) and the planted truth under /truth \
        (or the model under /rnn). The same --seed gives identical data.

        Examples:
          nfx simulate matrix -o matrix.h5 --units 1000 --time 2000 --rank 8
          nfx simulate calcium -o calcium.h5 --ar-order 2 --tau 0.7,0.1
          nfx simulate ephys -o ephys.h5 --channels 4 --units 3 --duration 30
        """,
        subcommands: [SimulateMatrix.self, SimulateTensor.self, SimulateCalcium.self, SimulateEphys.self,
                      SimulateRNN.self]
    )
}

/// The steps every kind shares: reserve the output, generate, write datasets and provenance, report.
private func writeSimulation(kind: String, options: CommonOptions, parameters: [(String, HDF5AttributeValue)],
                             summary: String, generate: () throws -> (HDF5File) throws -> [String: JSONValue]) throws {
    let path = options.outputPath(defaultName: "\(kind).h5")
    let output = try AtomicOutput(path: path, force: options.force)
    var provenance = Provenance(command: "simulate", seed: options.seed)
    provenance.record("kind", kind)
    for (name, value) in parameters { provenance.record(name, value) }
    let write: (HDF5File) throws -> [String: JSONValue]
    do {
        write = try generate()
    } catch let error as SimulationError {
        throw NFXError.usage(error.description)
    }
    var fields: [String: JSONValue] = [:]
    try writeOutput(output, provenance: provenance) { file in fields = try write(file) }
    let reporter = options.reporter
    reporter.result("\(summary) → \(path)")
    fields["command"] = .string("simulate \(kind)")
    fields["output"] = .string(path)
    fields["seed"] = .integer(Int(options.seed))
    fields["wall_seconds"] = .number(provenance.wallSeconds)
    reporter.summary(fields)
}

struct SimulateMatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "A non-negative low-rank units × time matrix W·H plus noise (for factorize).",
        discussion: "Writes /data, /truth/W (units × rank), /truth/H (rank × time). Example: nfx simulate matrix -o m.h5 --rank 8"
    )
    @Option(help: "Number of units (rows).") var units = MatrixSimulation().units
    @Option(help: "Number of time points (columns).") var time = MatrixSimulation().time
    @Option(help: "Planted rank.") var rank = MatrixSimulation().rank
    @Option(help: "Noise std as a fraction of the clean data's std (data is clipped at zero).")
    var noise = MatrixSimulation().noise
    @OptionGroup var options: CommonOptions

    func run() throws {
        let simulation = MatrixSimulation(units: units, time: time, rank: rank, noise: noise, seed: options.seed)
        try writeSimulation(
            kind: "matrix", options: options,
            parameters: [("units", .integer(Int64(units))), ("time", .integer(Int64(time))),
                         ("rank", .integer(Int64(rank))), ("noise", .double(noise))],
            summary: "simulated a \(units) × \(time) matrix of rank \(rank), noise \(noise)"
        ) {
            let result = try simulation.generate()
            return { file in
                try file.root.write(result.data.ndarray, to: "/data")
                try file.root.write(result.W.ndarray, to: "/truth/W")
                try file.root.write(result.H.ndarray, to: "/truth/H")
                return ["shape": .shape([units, time]), "rank": .integer(rank)]
            }
        }
    }
}

struct SimulateTensor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensor",
        abstract: "A non-negative CP tensor units × time × trials plus noise (for tca).",
        discussion: "Writes /data and /truth/factors/mode0, mode1, mode2 (dim × rank). Example: nfx simulate tensor -o t.h5 --rank 4"
    )
    @Option(help: "Number of units.") var units = TensorSimulation().units
    @Option(help: "Time points per trial.") var time = TensorSimulation().time
    @Option(help: "Number of trials.") var trials = TensorSimulation().trials
    @Option(help: "Planted rank (number of components).") var rank = TensorSimulation().rank
    @Option(help: "Noise std as a fraction of the clean data's std (data is clipped at zero).")
    var noise = TensorSimulation().noise
    @OptionGroup var options: CommonOptions

    func run() throws {
        let simulation = TensorSimulation(units: units, time: time, trials: trials, rank: rank, noise: noise,
                                          seed: options.seed)
        try writeSimulation(
            kind: "tensor", options: options,
            parameters: [("units", .integer(Int64(units))), ("time", .integer(Int64(time))),
                         ("trials", .integer(Int64(trials))), ("rank", .integer(Int64(rank))),
                         ("noise", .double(noise))],
            summary: "simulated a \(units) × \(time) × \(trials) tensor of rank \(rank), noise \(noise)"
        ) {
            let result = try simulation.generate()
            return { file in
                try file.root.write(result.data, to: "/data")
                for (mode, factor) in result.factors.enumerated() {
                    try file.root.write(factor.ndarray, to: "/truth/factors/mode\(mode)")
                }
                return ["shape": .shape([units, time, trials]), "rank": .integer(rank)]
            }
        }
    }
}

struct SimulateCalcium: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calcium",
        abstract: "Calcium fluorescence from Poisson spikes under an AR(1) or AR(2) model (for deconvolve).",
        discussion: """
        Writes /data (neurons × frames), /truth/spikes, /truth/calcium, /truth/g (neurons × p), /truth/baseline,
        /truth/sigma, and the root attribute frame_rate.
        Example: nfx simulate calcium -o ca.h5 --ar-order 2 --tau 0.7,0.1
        """
    )
    @Option(help: "Number of neurons.") var neurons = CalciumSimulation().neurons
    @Option(help: "Number of frames.") var frames = CalciumSimulation().frames
    @Option(help: "Frame rate (Hz).") var frameRate = CalciumSimulation().frameRate
    @Option(help: "Mean firing rate (Hz).") var firingRate = CalciumSimulation().firingRate
    @Option(help: "Autoregressive order of the calcium: 1 (instant rise) or 2 (finite rise).")
    var arOrder = CalciumSimulation().arOrder
    @Option(help: ArgumentHelp("Decay time constant in seconds; for AR(2) also the rise time: DECAY[,RISE].",
                               valueName: "seconds"))
    var tau: String?
    @Option(help: "Noise σ (in the units of one spike's calcium jump).") var noise = CalciumSimulation().noise
    @Option(help: "Constant baseline added to the fluorescence.") var baseline = CalciumSimulation().baseline
    @OptionGroup var options: CommonOptions

    func run() throws {
        var simulation = CalciumSimulation(neurons: neurons, frames: frames, frameRate: frameRate,
                                           firingRate: firingRate, arOrder: arOrder, noise: noise,
                                           baseline: baseline, seed: options.seed)
        if let tau {
            let values = tau.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.count <= 2, values.allSatisfy({ $0 != nil }) else {
                throw NFXError.usage("--tau takes DECAY or DECAY,RISE in seconds, got '\(tau)'")
            }
            if values.count == 2 && arOrder == 1 {
                throw NFXError.usage("--tau \(tau) gives a rise time, which only --ar-order 2 has",
                                     hint: "pass --tau DECAY for AR(1), or add --ar-order 2")
            }
            simulation.decayTime = values[0]!
            if values.count == 2 { simulation.riseTime = values[1]! }
        }
        try writeSimulation(
            kind: "calcium", options: options,
            parameters: [("neurons", .integer(Int64(neurons))), ("frames", .integer(Int64(frames))),
                         ("frame_rate", .double(frameRate)), ("firing_rate", .double(firingRate)),
                         ("ar_order", .integer(Int64(arOrder))),
                         ("tau", .doubles(arOrder == 2 ? [simulation.decayTime, simulation.riseTime]
                                                       : [simulation.decayTime])),
                         ("noise", .double(noise)), ("baseline", .double(baseline))],
            summary: "simulated \(neurons) calcium traces of \(frames) frames at \(frameRate) Hz, AR(\(arOrder))"
        ) {
            let result = try simulation.generate()
            return { file in
                try file.root.write(result.fluorescence.ndarray, to: "/data")
                try file.root.write(result.spikes.ndarray, to: "/truth/spikes")
                try file.root.write(result.calcium.ndarray, to: "/truth/calcium")
                try file.root.write(result.g.ndarray, to: "/truth/g")
                try file.root.write(NDArray(shape: [neurons], elements: result.baseline), to: "/truth/baseline")
                try file.root.write(NDArray(shape: [neurons], elements: result.sigma), to: "/truth/sigma")
                let spikeCount = result.spikes.elements.reduce(0, +)
                return ["shape": .shape([neurons, frames]), "spikes": .integer(Int(spikeCount))]
            }
        }
    }
}

struct SimulateEphys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ephys",
        abstract: "An extracellular recording: units with distinct waveforms, Poisson firing, noise (for spikesort).",
        discussion: """
        Writes /data (channels × samples), /truth/spike_times (int64, sample of each trough, ascending),
        /truth/spike_labels (int32), /truth/waveforms (units × channels × samples), root attribute sampling_rate.
        Example: nfx simulate ephys -o ephys.h5 --channels 4 --units 3 --duration 30
        """
    )
    @Option(help: "Number of channels.") var channels = EphysSimulation().channels
    @Option(help: "Number of units (neurons).") var units = EphysSimulation().units
    @Option(help: "Duration (s).") var duration = EphysSimulation().duration
    @Option(help: "Sampling rate (Hz).") var samplingRate = EphysSimulation().samplingRate
    @Option(help: "Mean firing rate per unit (Hz).") var firingRate = EphysSimulation().firingRate
    @Option(help: "Noise σ.") var noise = EphysSimulation().noise
    @Option(help: "Mean peak amplitude on a unit's home channel, in data units (units spread ±20% around it).")
    var amplitude = EphysSimulation().amplitude
    @Option(help: "Absolute refractory period (s): no two spikes of a unit closer than this.")
    var refractoryPeriod = EphysSimulation().refractoryPeriod
    @Option(help: "Length of each waveform (s).") var waveformDuration = EphysSimulation().waveformDuration
    @OptionGroup var options: CommonOptions

    func run() throws {
        let simulation = EphysSimulation(channels: channels, units: units, duration: duration,
                                         samplingRate: samplingRate, firingRate: firingRate, noise: noise,
                                         refractoryPeriod: refractoryPeriod, waveformDuration: waveformDuration,
                                         amplitude: amplitude, seed: options.seed)
        try writeSimulation(
            kind: "ephys", options: options,
            parameters: [("channels", .integer(Int64(channels))), ("units", .integer(Int64(units))),
                         ("duration", .double(duration)), ("sampling_rate", .double(samplingRate)),
                         ("firing_rate", .double(firingRate)), ("noise", .double(noise)),
                         ("amplitude", .double(amplitude)), ("refractory_period", .double(refractoryPeriod)),
                         ("waveform_duration", .double(waveformDuration))],
            summary: "simulated \(duration) s of \(channels)-channel recording at \(samplingRate) Hz with \(units) units"
        ) {
            let result = try simulation.generate()
            return { file in
                try file.root.write(result.data.ndarray, to: "/data")
                try file.root.write(NDArray(shape: [result.spikeTimes.count], elements: result.spikeTimes),
                                    to: "/truth/spike_times")
                try file.root.write(NDArray(shape: [result.spikeLabels.count], elements: result.spikeLabels),
                                    to: "/truth/spike_labels")
                try file.root.write(result.waveforms, to: "/truth/waveforms")
                try file.group("/truth").setAttribute("trough_index", .integer(Int64(result.troughIndex)))
                return ["shape": .shape(result.data.ndarray.shape), "spikes": .integer(result.spikeTimes.count)]
            }
        }
    }
}

struct SimulateRNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnn",
        abstract: "A random low-rank ReLU or clipped-ReLU RNN z' = A z + N φ(M z + b) + c (for fixedpoints).",
        discussion: "Writes /rnn/A, /rnn/M, /rnn/N, /rnn/b, /rnn/c (and /rnn/clip for clipped ReLU), group attribute activation. Example: nfx simulate rnn -o rnn.h5 --units 100 --rank 2"
    )
    @Option(help: "Number of units n.") var units = RNNSimulation().units
    @Option(help: "Rank R of the connectivity (latent dimensions).") var rank = RNNSimulation().rank
    @Option(help: "relu or clipped-relu.") var activation: String = RNNSimulation().activation.rawValue
    @Option(help: "Decay a of the latent state (A = a·I).") var decay = RNNSimulation().decay
    @OptionGroup var options: CommonOptions

    func run() throws {
        guard let activationKind = Activation(rawValue: activation), activationKind.isPiecewiseLinear else {
            throw NFXError.usage("--activation must be relu or clipped-relu, got '\(activation)'")
        }
        let simulation = RNNSimulation(units: units, rank: rank, activation: activationKind, decay: decay,
                                       seed: options.seed)
        try writeSimulation(
            kind: "rnn", options: options,
            parameters: [("units", .integer(Int64(units))), ("rank", .integer(Int64(rank))),
                         ("activation", .string(activation)), ("decay", .double(decay))],
            summary: "simulated a rank-\(rank) \(activation) RNN of \(units) units"
        ) {
            let model = try simulation.generate()
            return { file in
                let group = try file.root.createGroup("/rnn")
                try group.setAttribute("activation", .string(model.activation.rawValue))
                try group.write(model.A.ndarray, to: "A")
                try group.write(model.M.ndarray, to: "M")
                try group.write(model.N.ndarray, to: "N")
                try group.write(NDArray(shape: [units], elements: model.b), to: "b")
                try group.write(NDArray(shape: [rank], elements: model.c), to: "c")
                if let clip = model.clip { try group.write(NDArray(shape: [units], elements: clip), to: "clip") }
                return ["units": .integer(units), "rank": .integer(rank), "activation": .string(activation)]
            }
        }
    }
}
