import Foundation
import LinearAlgebra
import NFXCore

/// Multi-channel extracellular voltage with known spikes, the ground truth for `nfx spikesort` and `nfx cdl-train`.
///
/// `data[c, t] = Σ_spikes waveform[unit, c, t − spike + troughIndex] + σ·ε`. Each unit has a fixed template: a
/// biphasic extracellular action potential (a sharp negative trough, then a slower, smaller positive rebound, the
/// shape of a somatic spike seen from outside the cell; Gold et al., "On the origin of the extracellular action
/// potential waveform", J. Neurophysiol. 95, 2006) scaled over the channels by a profile that peaks on the unit's
/// home channel and decays with distance along a linear probe, which is what lets sorters tell units apart.
/// Spike trains are Poisson processes with an absolute refractory period (a dead time), so no two spikes of a unit
/// are closer than `refractoryPeriod`.
public struct EphysSimulation: Sendable {
    public var channels: Int
    public var units: Int
    /// Seconds.
    public var duration: Double
    /// Hz.
    public var samplingRate: Double
    /// Mean spikes per second per unit (the refractory period is accounted for, so this is the realised rate).
    public var firingRate: Double
    /// σ of the additive Gaussian noise, in data units.
    public var noise: Double
    /// Seconds; rounded to whole samples.
    public var refractoryPeriod: Double
    /// Seconds covered by each template; rounded to whole samples.
    public var waveformDuration: Double
    /// Mean peak |amplitude| of a unit on its home channel, in data units; units spread over ±20 % of it. With the
    /// default noise of 1 the peaks are ~10σ, comfortably detectable, as the contract promises.
    public var amplitude: Double
    public var seed: UInt64

    public init(channels: Int = 4, units: Int = 3, duration: Double = 10, samplingRate: Double = 30000,
                firingRate: Double = 5, noise: Double = 1.0, refractoryPeriod: Double = 0.002,
                waveformDuration: Double = 0.002, amplitude: Double = 10, seed: UInt64 = 0) {
        self.channels = channels
        self.units = units
        self.duration = duration
        self.samplingRate = samplingRate
        self.firingRate = firingRate
        self.noise = noise
        self.refractoryPeriod = refractoryPeriod
        self.waveformDuration = waveformDuration
        self.amplitude = amplitude
        self.seed = seed
    }

    /// Samples in the recording.
    public var samples: Int { Check.sampleCount(duration * samplingRate) }
    /// Samples in each template.
    public var waveformSamples: Int { Check.sampleCount(waveformDuration * samplingRate) }
    /// Dead time in samples.
    public var refractorySamples: Int { Check.sampleCount(refractoryPeriod * samplingRate) }
    /// The template sample at which the trough sits: 35 % into the window, leaving room for the longer rebound.
    public var troughIndex: Int { min(waveformSamples - 1, Int((0.35 * Double(waveformSamples)).rounded())) }

    public func validate() throws {
        try Check.atLeast(channels, 1, "--channels")
        try Check.atLeast(units, 1, "--units")
        try Check.positive(samplingRate, "--sampling-rate")
        try Check.positive(duration, "--duration")
        guard duration * samplingRate <= Double(Check.maximumElements) else {
            throw SimulationError.tooLarge(
                message: "--duration × --sampling-rate = \(duration * samplingRate) samples is too large "
                    + "(at most \(Check.maximumElements)); reduce --duration or --sampling-rate")
        }
        try Check.nonNegative(firingRate, "--firing-rate")
        try Check.nonNegative(noise, "--noise")
        try Check.positive(amplitude, "--amplitude")
        try Check.nonNegative(refractoryPeriod, "--refractory-period")
        guard refractorySamples >= 1 else {
            throw SimulationError.invalidOption(
                flag: "--refractory-period",
                message: "--refractory-period must be at least one sample (1/--sampling-rate = "
                    + "\(1 / samplingRate) s; got \(refractoryPeriod))")
        }
        guard firingRate * Double(refractorySamples) / samplingRate < 1 else {
            throw SimulationError.invalidOption(
                flag: "--firing-rate",
                message: "--firing-rate must be below 1/--refractory-period = "
                    + "\(samplingRate / Double(refractorySamples)) Hz (got \(firingRate))")
        }
        try Check.nonNegative(waveformDuration, "--waveform-duration")
        guard waveformSamples >= 3 else {
            throw SimulationError.invalidOption(
                flag: "--waveform-duration",
                message: "--waveform-duration must span at least 3 samples (3/--sampling-rate = "
                    + "\(3 / samplingRate) s; got \(waveformDuration))")
        }
        guard samples >= waveformSamples else {
            throw SimulationError.invalidOption(
                flag: "--duration",
                message: "--duration must be at least --waveform-duration (\(waveformDuration) s; got \(duration))")
        }
        try Check.size([channels, samples], "--channels × samples")
        try Check.size([units, channels, waveformSamples], "--units × --channels × waveform samples")
    }

    /// Templates, spike trains and noise use separate streams; each unit's train and each channel's noise has its
    /// own sub-stream, so adding a unit or a channel leaves the others unchanged.
    public func generate() throws -> SimulatedEphys {
        try validate()
        let root = SeededGenerator(seed: seed)
        var templateStream = root.split(stream: 0)
        let trainStreams = root.split(stream: 1)
        let noiseStreams = root.split(stream: 2)

        let width = waveformSamples, trough = troughIndex, length = samples
        let waveforms = makeWaveforms(using: &templateStream)

        var spikes: [(time: Int, unit: Int)] = []
        let meanISI = 1 / firingRate  // seconds; infinite when the unit is silent
        let exponentialRate = 1 / (meanISI - Double(refractorySamples) / samplingRate)
        if firingRate > 0 {
            for unit in 0..<units {
                var rng = trainStreams.split(stream: UInt64(unit))
                // Time in samples, kept fractional so the dead time is exact and floors never round two spikes closer.
                var t = rng.exponential(rate: exponentialRate) * samplingRate
                while t < Double(length) {
                    let sample = Int(t)
                    if sample - trough >= 0 && sample - trough + width <= length {
                        spikes.append((sample, unit))
                    }
                    t += Double(refractorySamples) + rng.exponential(rate: exponentialRate) * samplingRate
                }
            }
        }
        spikes.sort { $0.time != $1.time ? $0.time < $1.time : $0.unit < $1.unit }

        var data = Matrix(rows: channels, columns: length)
        data.elements.withUnsafeMutableBufferPointer { out in
            for spike in spikes {
                let start = spike.time - trough
                for channel in 0..<channels {
                    let templateOffset = (spike.unit * channels + channel) * width
                    let dataOffset = channel * length + start
                    for k in 0..<width { out[dataOffset + k] += waveforms.elements[templateOffset + k] }
                }
            }
            if noise > 0 {
                for channel in 0..<channels {
                    var rng = noiseStreams.split(stream: UInt64(channel))
                    for t in 0..<length { out[channel * length + t] += noise * rng.normal() }
                }
            }
        }
        return SimulatedEphys(data: data, spikeTimes: spikes.map { Int64($0.time) },
                              spikeLabels: spikes.map { Int32($0.unit) }, waveforms: waveforms,
                              samplingRate: samplingRate, troughIndex: trough)
    }

    /// units × channels × waveformSamples templates.
    ///
    /// Shape: `−G(t; σ₁) + ρ·G(t − δ; σ₂) + π·G(t + ε; σ₃)`: a trough of width σ₁ ∈ [0.08, 0.25] ms; a rebound
    /// δ ∈ [0.25, 0.9] ms later, wider (σ₂ ∈ [0.15, 0.5] ms) and smaller (ρ ∈ [0.15, 0.6]); and, for some cells, a
    /// small positive peak ε ∈ [0.12, 0.3] ms before the trough (π ∈ [0, 0.35], σ₃ ∈ [0.06, 0.15] ms), the
    /// triphasic shape of spikes recorded near the axon. That spans narrow- to broad-spiking cells (trough to peak
    /// 0.2–0.9 ms). Units are distinct cells: a unit's shape is drawn again (up to `shapeDraws` times, keeping the
    /// least similar) while it correlates above `maximumShapeSimilarity` with an earlier unit's at any alignment
    /// within ±0.3 ms. The continuous minimum is moved to exactly `troughIndex`, the ends are cosine-tapered to
    /// zero so that placed templates have no steps, and the trough is scaled to −1 before the channel gains and
    /// the unit's amplitude (stratified over amplitude × [0.8, 1.2], so units differ) are applied.
    private func makeWaveforms(using rng: inout SeededGenerator) -> NDArray<Double> {
        let width = waveformSamples
        var channelOrder = Array(0..<channels)
        rng.shuffle(&channelOrder)
        var amplitudeSlots = Array(0..<units)
        rng.shuffle(&amplitudeSlots)
        let taperLength = max(1, Int(0.15 * Double(width)))
        func taper(_ k: Int) -> Double {
            let fromEdge = min(k, width - 1 - k)
            guard fromEdge < taperLength else { return 1 }
            return 0.5 - 0.5 * cos(Double.pi * Double(fromEdge) / Double(taperLength))
        }
        let alignment = max(1, Int((0.0003 * samplingRate).rounded()))

        var shapes: [[Double]] = []
        var waveforms = NDArray<Double>(shape: [units, channels, width], repeating: 0)
        for unit in 0..<units {
            var chosen: (shape: [Double], similarity: Double)?
            for _ in 0..<Self.shapeDraws {
                let shape = drawShape(using: &rng).enumerated().map { $0.element * taper($0.offset) }
                let similarity = shapes.map { Self.similarity(shape, $0, maximumShift: alignment) }.max() ?? 0
                if similarity < chosen?.similarity ?? .infinity { chosen = (shape, similarity) }
                if similarity <= Self.maximumShapeSimilarity { break }
            }
            shapes.append(chosen!.shape)
            let unitAmplitude = amplitude * (0.8 + 0.4 * (Double(amplitudeSlots[unit]) + rng.uniform(in: 0.2..<0.8))
                / Double(units))
            let home = channelOrder[unit % channels]
            let position = Double(home) + rng.uniform(in: -0.35..<0.35)
            let spread = rng.uniform(in: 0.5..<1.0)
            let homeGain = exp(-abs(Double(home) - position) / spread)
            for channel in 0..<channels {
                let gain = exp(-abs(Double(channel) - position) / spread) / homeGain * unitAmplitude
                for k in 0..<width { waveforms[unit, channel, k] = gain * shapes[unit][k] }
            }
        }
        return waveforms
    }

    /// Draws of a unit's shape, and the correlation above which two units' shapes count as alike.
    static let shapeDraws = 200
    static let maximumShapeSimilarity = 0.9

    /// One untapered shape sampled at the template's taps, its continuous minimum at `troughIndex` and −1.
    private func drawShape(using rng: inout SeededGenerator) -> [Double] {
        let troughWidth = rng.uniform(in: 0.08e-3..<0.25e-3)
        let reboundDelay = rng.uniform(in: 0.25e-3..<0.9e-3)
        let reboundWidth = rng.uniform(in: 0.15e-3..<0.5e-3)
        let reboundRatio = rng.uniform(in: 0.15..<0.6)
        let leadRatio = max(0, rng.uniform(in: -0.2..<0.35))
        let leadDelay = rng.uniform(in: 0.12e-3..<0.3e-3)
        let leadWidth = rng.uniform(in: 0.06e-3..<0.15e-3)
        func shape(_ t: Double) -> Double {
            let a = t / troughWidth, b = (t - reboundDelay) / reboundWidth, c = (t + leadDelay) / leadWidth
            return -exp(-0.5 * a * a) + reboundRatio * exp(-0.5 * b * b) + leadRatio * exp(-0.5 * c * c)
        }
        // Locate the continuous minimum near 0 (the other peaks' slopes pull it slightly aside) on a fine grid.
        var minimumAt = 0.0, minimum = shape(0)
        for step in -400...400 {
            let t = Double(step) * troughWidth / 400
            let value = shape(t)
            if value < minimum { minimum = value; minimumAt = t }
        }
        return (0..<waveformSamples).map { k in
            shape(Double(k - troughIndex) / samplingRate + minimumAt) / -minimum
        }
    }

    /// The largest normalised correlation of two shapes over relative shifts up to `maximumShift` taps.
    static func similarity(_ a: [Double], _ b: [Double], maximumShift: Int) -> Double {
        let norms = (a.reduce(0) { $0 + $1 * $1 } * b.reduce(0) { $0 + $1 * $1 }).squareRoot()
        guard norms > 0 else { return 0 }
        var best = -Double.infinity
        for shift in -maximumShift...maximumShift {
            var sum = 0.0
            for k in max(0, -shift)..<min(a.count, b.count - shift) { sum += a[k] * b[k + shift] }
            best = max(best, sum / norms)
        }
        return best
    }
}

/// The output of `EphysSimulation`.
public struct SimulatedEphys: Sendable {
    /// channels × samples.
    public var data: Matrix
    /// The sample of each spike's trough, ascending.
    public var spikeTimes: [Int64]
    /// The unit of each spike, 0-based.
    public var spikeLabels: [Int32]
    /// units × channels × waveform samples; the trough of each template is at `troughIndex`.
    public var waveforms: NDArray<Double>
    /// Hz.
    public var samplingRate: Double
    /// The template sample aligned with each spike time.
    public var troughIndex: Int

    public init(data: Matrix, spikeTimes: [Int64], spikeLabels: [Int32], waveforms: NDArray<Double>,
                samplingRate: Double, troughIndex: Int) {
        self.data = data
        self.spikeTimes = spikeTimes
        self.spikeLabels = spikeLabels
        self.waveforms = waveforms
        self.samplingRate = samplingRate
        self.troughIndex = troughIndex
    }
}
