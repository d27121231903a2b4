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
    /// Shape: `−G(t; σ₁) + ρ·G(t − δ; σ₂)` with a trough of width σ₁ ∈ [0.08, 0.16] ms and a rebound δ ∈ [0.3, 0.55] ms
    /// later, wider (σ₂ ∈ [0.18, 0.35] ms) and smaller (ρ ∈ [0.2, 0.45]), which spans narrow- to broad-spiking cells.
    /// The continuous minimum is moved to exactly `troughIndex`, the ends are cosine-tapered to zero so that placed
    /// templates have no steps, and the trough is scaled to −1 before the channel gains and the unit's amplitude
    /// (stratified over amplitude × [0.8, 1.2], so units differ) are applied.
    private func makeWaveforms(using rng: inout SeededGenerator) -> NDArray<Double> {
        let width = waveformSamples, trough = troughIndex
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

        var waveforms = NDArray<Double>(shape: [units, channels, width], repeating: 0)
        for unit in 0..<units {
            let troughWidth = rng.uniform(in: 0.08e-3..<0.16e-3)
            let reboundDelay = rng.uniform(in: 0.3e-3..<0.55e-3)
            let reboundWidth = rng.uniform(in: 0.18e-3..<0.35e-3)
            let reboundRatio = rng.uniform(in: 0.2..<0.45)
            func shape(_ t: Double) -> Double {
                let a = t / troughWidth, b = (t - reboundDelay) / reboundWidth
                return -exp(-0.5 * a * a) + reboundRatio * exp(-0.5 * b * b)
            }
            // Locate the continuous minimum near 0 (the rebound's slope pulls it slightly earlier) on a fine grid.
            var minimumAt = 0.0, minimum = shape(0)
            for step in -400...400 {
                let t = Double(step) * troughWidth / 400
                let value = shape(t)
                if value < minimum { minimum = value; minimumAt = t }
            }
            let unitAmplitude = amplitude * (0.8 + 0.4 * (Double(amplitudeSlots[unit]) + rng.uniform(in: 0.2..<0.8))
                / Double(units))
            let home = channelOrder[unit % channels]
            let position = Double(home) + rng.uniform(in: -0.35..<0.35)
            let spread = rng.uniform(in: 0.5..<1.0)
            let homeGain = exp(-abs(Double(home) - position) / spread)
            for channel in 0..<channels {
                let gain = exp(-abs(Double(channel) - position) / spread) / homeGain * unitAmplitude
                for k in 0..<width {
                    let t = Double(k - trough) / samplingRate + minimumAt
                    waveforms[unit, channel, k] = gain * taper(k) * shape(t) / -minimum
                }
            }
        }
        return waveforms
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
