import Dispatch
import Foundation

/// One biquad H(z) = (b0 + b1·z⁻¹ + b2·z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²); a0 is always 1.
public struct SecondOrderSection: Sendable, Equatable {
    public var b0: Double, b1: Double, b2: Double
    public var a1: Double, a2: Double

    public init(b0: Double, b1: Double, b2: Double, a1: Double, a2: Double) {
        (self.b0, self.b1, self.b2, self.a1, self.a2) = (b0, b1, b2, a1, a2)
    }

    /// The row SciPy writes for this section in an `sos` array: b0, b1, b2, a0 (= 1), a1, a2.
    public var coefficients: [Double] { [b0, b1, b2, 1, a1, a2] }

    /// The state this section holds after a long run of input 1 (the step response's steady state), in the
    /// transposed direct form II that `filter` uses.
    ///
    /// SciPy's `lfilter_zi` solves (I − Aᵀ)·zi = b[1:] − a[1:]·b0 with A the companion matrix of a; for a biquad
    /// the 2 × 2 system solves in closed form.
    var unitStepState: (Double, Double) {
        let rhs0 = b1 - a1 * b0, rhs1 = b2 - a2 * b0
        let first = (rhs0 + rhs1) / (1 + a1 + a2)
        return (first, rhs1 - a2 * first)
    }

    /// The gain at DC, H(1).
    var dcGain: Double { (b0 + b1 + b2) / (1 + a1 + a2) }
}

/// A digital Butterworth band-pass (or high-pass, see below) as second-order sections, designed exactly as SciPy's
/// `scipy.signal.butter(order, [low, high], btype="band", output="sos", fs=samplingRate)`, and applied forwards
/// and backwards (zero phase) exactly as `scipy.signal.sosfiltfilt(sos, x)` with its defaults.
///
/// Design (S. Butterworth, "On the theory of filter amplifiers", Wireless Engineer 7, 1930; the steps and their
/// order follow SciPy's `iirfilter`, `lp2bp_zpk`, `bilinear_zpk` and `zpk2sos`, so the sections agree with SciPy's
/// to rounding): the analog low-pass prototype's poles −exp(iπm/2N), m = −N+1, −N+3, …, N−1; band edges pre-warped
/// by the bilinear transform's tangent; the prototype moved to the band by s → (s² + ω₀²)/(s·bw); the bilinear
/// transform to z; then poles and zeros paired into sections nearest-first, the poles closest to the unit circle in
/// the last sections, and the overall gain in the first section's numerator.
///
/// Band edges, as a user would want them rather than as SciPy's errors:
/// - `low ≤ 0`, `low ≥ high`, a non-finite `low`, or `low` at or above Nyquist throws
///   `SpikeSortingError.invalidOption(flag: "--band", …)`.
/// - `high` at or above the Nyquist frequency (`samplingRate / 2`, including `.infinity`) asks to keep everything
///   above `low` that the recording can hold, so the filter becomes an order-`order` Butterworth **high-pass** at
///   `low` (SciPy's `butter(order, low, btype="highpass", output="sos", fs=samplingRate)`) and `high` is reported as
///   nil. SciPy and SpikeInterface refuse such a band; the default 300–6000 Hz band on a 10 kHz recording is the
///   typical case, and cutting an arbitrary 95 % of Nyquist instead would remove signal nobody asked to remove.
///   An upper edge just below Nyquist is designed as asked (the pre-warped edge is large but finite).
///
/// The default order is 5, SpikeInterface's `bandpass_filter` default (`filter_order=5`, Butterworth, SOS,
/// forward-backward); the zero-phase response is the square of the single-pass one, so the effective order is 10
/// and each band edge is at −6 dB (gain ½) after filtering.
///
/// The lower edge may have an order of its own (`lowEdgeOrder`): the filter is then an order-`lowEdgeOrder`
/// Butterworth high-pass at `low` followed by an order-`order` Butterworth low-pass at `high` (SciPy's two
/// `butter(…, btype="highpass" / "lowpass", output="sos")` arrays stacked), which is how the spike sorter keeps the
/// spikes' low frequencies with a gentle high-pass while cutting the noise above the band steeply.
public struct ButterworthBandpass: Sendable, Equatable {
    public static let defaultOrder = 5
    public static let defaultLow = 300.0
    public static let defaultHigh = 6000.0

    /// Order of the band-pass, or of the low-pass at `high` when the lower edge has an order of its own.
    public let order: Int
    /// Order of the high-pass at `low`; equal to `order` for a plain band-pass.
    public let lowEdgeOrder: Int
    /// Lower −3 dB edge of one pass, in Hz.
    public let low: Double
    /// Upper −3 dB edge of one pass, in Hz; nil when the filter is a high-pass because the requested upper edge was
    /// at or above Nyquist.
    public let high: Double?
    public let samplingRate: Double
    /// The cascade, first section first; the first section carries the overall gain.
    public let sections: [SecondOrderSection]

    public init(order: Int = ButterworthBandpass.defaultOrder, lowEdgeOrder: Int? = nil,
                low: Double = ButterworthBandpass.defaultLow, high: Double = ButterworthBandpass.defaultHigh,
                samplingRate: Double) throws {
        guard samplingRate > 0, samplingRate.isFinite else {
            throw SpikeSortingError.nonPositiveSamplingRate(samplingRate)
        }
        guard order >= 1 else {
            throw SpikeSortingError.invalidOption(flag: "--filter-order",
                                                  message: "--filter-order must be at least 1, got \(order)")
        }
        let lowEdgeOrder = lowEdgeOrder ?? order
        guard lowEdgeOrder >= 1 else {
            throw SpikeSortingError.invalidOption(flag: "--low-edge-order",
                                                  message: "--low-edge-order must be at least 1, got \(lowEdgeOrder)")
        }
        let nyquist = samplingRate / 2
        guard low > 0, low.isFinite, !high.isNaN, low < high else {
            throw SpikeSortingError.invalidOption(
                flag: "--band", message: "--band must be LOW,HIGH in Hz with 0 < LOW < HIGH, got \(low),\(high)")
        }
        guard low < nyquist else {
            throw SpikeSortingError.invalidOption(
                flag: "--band", message: "--band's lower edge \(low) Hz must be below the Nyquist frequency "
                    + "\(nyquist) Hz (half the sampling rate \(samplingRate) Hz)")
        }
        self.order = order
        self.lowEdgeOrder = lowEdgeOrder
        self.low = low
        self.samplingRate = samplingRate
        if high < nyquist {
            self.high = high
            sections = lowEdgeOrder == order
                ? Self.design(order: order, normalizedEdges: [low / nyquist, high / nyquist])
                : Self.design(order: lowEdgeOrder, normalizedEdges: [low / nyquist])
                    + Self.design(order: order, normalizedEdges: [high / nyquist], lowPass: true)
        } else {
            self.high = nil
            sections = Self.design(order: lowEdgeOrder, normalizedEdges: [low / nyquist])
        }
    }

    // MARK: Design

    /// SOS for edges given as fractions of Nyquist: two edges → band-pass, one → high-pass (low-pass with
    /// `lowPass`).
    private static func design(order: Int, normalizedEdges: [Double], lowPass: Bool = false) -> [SecondOrderSection] {
        // As SciPy's `iirfilter`: work at fs = 2, so the bilinear transform's 2·fs is 4 and an edge at fraction w
        // of Nyquist pre-warps to 4·tan(π·w/2).
        let doubledRate = 4.0
        let warped = normalizedEdges.map { doubledRate * tan(Double.pi * $0 / 2) }
        let prototype = (0..<order).map { index -> Complex in
            let m = Double(2 * index - order + 1)
            let angle = Double.pi * m / Double(2 * order)
            return Complex(-cos(angle), -sin(angle))
        }

        var zeros: [Complex]
        var poles: [Complex]
        var gain: Double
        if warped.count == 2 {
            // Low-pass → band-pass: each pole p becomes the two roots of s² − p·bw·s + ω₀² = 0; the prototype's N
            // zeros at infinity become N at the origin and N at infinity.
            let bandwidth = warped[1] - warped[0]
            let centre = (warped[0] * warped[1]).squareRoot()
            let scaled = prototype.map { $0 * (bandwidth / 2) }
            let offsets = scaled.map { ($0 * $0 - Complex(centre * centre, 0)).squareRoot() }
            poles = zip(scaled, offsets).map { $0 + $1 } + zip(scaled, offsets).map { $0 - $1 }
            zeros = Array(repeating: Complex(0, 0), count: order)
            gain = pow(bandwidth, Double(order))
        } else if lowPass {
            // Scaled low-pass: s → s/ω; the zeros stay at infinity.
            poles = prototype.map { $0 * warped[0] }
            zeros = []
            gain = pow(warped[0], Double(order))
        } else {
            // Low-pass → high-pass: s → ω/s; the zeros at infinity move to the origin.
            poles = prototype.map { Complex(warped[0], 0) / $0 }
            zeros = Array(repeating: Complex(0, 0), count: order)
            // The gain that undoes the inversion, Re(Π(−z)/Π(−p)) over the prototype (no zeros: Π(−z) = 1).
            gain = (Complex(1, 0) / prototype.reduce(Complex(1, 0)) { $0 * -$1 }).real
        }

        // Bilinear transform s = 2·fs·(z − 1)/(z + 1); zeros left at infinity land on z = −1 (Nyquist).
        let relativeDegree = poles.count - zeros.count
        let numeratorProduct = zeros.reduce(Complex(1, 0)) { $0 * (Complex(doubledRate, 0) - $1) }
        let denominatorProduct = poles.reduce(Complex(1, 0)) { $0 * (Complex(doubledRate, 0) - $1) }
        gain *= (numeratorProduct / denominatorProduct).real
        zeros = zeros.map { (Complex(doubledRate, 0) + $0) / (Complex(doubledRate, 0) - $0) }
            + Array(repeating: Complex(-1, 0), count: relativeDegree)
        poles = poles.map { (Complex(doubledRate, 0) + $0) / (Complex(doubledRate, 0) - $0) }

        return pairedSections(zeros: zeros, poles: poles, gain: gain)
    }

    /// SciPy's `zpk2sos` with `pairing="nearest"` for a digital filter: repeatedly take the pole closest to the unit
    /// circle (filling sections from the last one backwards), pair it with its conjugate or with the next real pole,
    /// and give it the nearest zeros. Keeping each pole with its nearest zeros keeps every section's gain moderate,
    /// which is what makes SOS numerically robust.
    private static func pairedSections(zeros allZeros: [Complex], poles allPoles: [Complex],
                                       gain: Double) -> [SecondOrderSection] {
        var zeros = allZeros, poles = allPoles
        // Equal counts, and an even number so that every section is a full biquad (an odd leftover pole is
        // matched with a pole and a zero at the origin).
        if zeros.count < poles.count { zeros += Array(repeating: Complex(0, 0), count: poles.count - zeros.count) }
        if poles.count < zeros.count { poles += Array(repeating: Complex(0, 0), count: zeros.count - poles.count) }
        let sectionCount = (poles.count + 1) / 2
        if poles.count % 2 == 1 {
            poles.append(Complex(0, 0))
            zeros.append(Complex(0, 0))
        }
        // One representative per conjugate pair (positive imaginary part), then the real values.
        zeros = conjugateHalves(zeros)
        poles = conjugateHalves(poles)

        func worstIndex(_ candidates: [Complex], among indices: [Int]? = nil) -> Int {
            let indices = indices ?? Array(candidates.indices)
            var best = indices[0]
            for index in indices.dropFirst()
            where abs(1 - candidates[index].magnitude) < abs(1 - candidates[best].magnitude) { best = index }
            return best
        }
        enum Kind { case real, complex, any }
        func nearestIndex(in candidates: [Complex], to target: Complex, kind: Kind) -> Int? {
            let order = candidates.indices.sorted {
                let (d0, d1) = ((candidates[$0] - target).magnitude, (candidates[$1] - target).magnitude)
                return d0 < d1 || (d0 == d1 && $0 < $1)
            }
            return order.first {
                switch kind {
                case .real: candidates[$0].isReal
                case .complex: !candidates[$0].isReal
                case .any: true
                }
            }
        }

        var sections = [SecondOrderSection](repeating: SecondOrderSection(b0: 1, b1: 0, b2: 0, a1: 0, a2: 0),
                                            count: sectionCount)
        for sectionIndex in stride(from: sectionCount - 1, through: 0, by: -1) {
            guard !poles.isEmpty else { break }
            let firstPole = poles.remove(at: worstIndex(poles))
            let realPolesLeft = poles.filter(\.isReal).count
            var sectionZeros: [Complex]
            var sectionPoles: [Complex]
            if firstPole.isReal && realPolesLeft == 0 {
                // The last real pole: a first-order section padded with a pole and a zero at the origin.
                let zero = nearestIndex(in: zeros, to: firstPole, kind: .real).map { zeros.remove(at: $0) }
                sectionZeros = [zero ?? Complex(0, 0), Complex(0, 0)]
                sectionPoles = [firstPole, Complex(0, 0)]
            } else if poles.count + 1 == zeros.count, !firstPole.isReal, realPolesLeft == 1,
                      zeros.filter(\.isReal).count == 1,
                      let complexZero = nearestIndex(in: zeros, to: firstPole, kind: .complex) {
                // One real pole and one real zero remain for the end: this complex pole must take a complex zero.
                let zero = zeros.remove(at: complexZero)
                sectionZeros = [zero, zero.conjugate]
                sectionPoles = [firstPole, firstPole.conjugate]
            } else {
                let secondPole: Complex
                if firstPole.isReal {
                    let realIndices = poles.indices.filter { poles[$0].isReal }
                    secondPole = poles.remove(at: worstIndex(poles, among: realIndices))
                } else {
                    secondPole = firstPole.conjugate
                }
                sectionPoles = [firstPole, secondPole]
                if let nearest = nearestIndex(in: zeros, to: firstPole, kind: .any) {
                    let zero = zeros.remove(at: nearest)
                    if !zero.isReal {
                        sectionZeros = [zero, zero.conjugate]
                    } else if let other = nearestIndex(in: zeros, to: firstPole, kind: .real) {
                        sectionZeros = [zero, zeros.remove(at: other)]
                    } else {
                        sectionZeros = [zero]
                    }
                } else {
                    sectionZeros = []
                }
            }
            // Coefficients right-aligned as SciPy places them (one zero: b = [0, 1, −z]).
            let b = polynomial(sectionZeros), a = polynomial(sectionPoles)
            let bPadded = Array(repeating: 0.0, count: 3 - b.count) + b
            let aPadded = Array(repeating: 0.0, count: 3 - a.count) + a
            sections[sectionIndex] = SecondOrderSection(b0: bPadded[0], b1: bPadded[1], b2: bPadded[2],
                                                        a1: aPadded[1] / aPadded[0], a2: aPadded[2] / aPadded[0])
        }
        sections[0].b0 *= gain
        sections[0].b1 *= gain
        sections[0].b2 *= gain
        return sections
    }

    /// The monic polynomial with these roots (highest power first), real parts only: the roots are real or come
    /// as conjugate pairs, as in NumPy's `poly`.
    private static func polynomial(_ roots: [Complex]) -> [Double] {
        var coefficients = [Complex(1, 0)]
        for root in roots {
            var next = coefficients + [Complex(0, 0)]
            for index in 1..<next.count { next[index] = next[index] - root * coefficients[index - 1] }
            coefficients = next
        }
        return coefficients.map(\.real)
    }

    /// SciPy's `_cplxreal`: values whose imaginary part is within 100 ε of their magnitude are real; the others
    /// must come in conjugate pairs, of which the half with positive imaginary part is kept, averaged with its
    /// partner to remove rounding. Complex halves come first (by real part, ties by |imaginary part|), then the
    /// real values in increasing order.
    private static func conjugateHalves(_ values: [Complex]) -> [Complex] {
        let tolerance = 100 * Double.ulpOfOne
        let sorted = values.enumerated().sorted { lhs, rhs in
            let (x, y) = (lhs.element, rhs.element)
            if x.real != y.real { return x.real < y.real }
            if abs(x.imaginary) != abs(y.imaginary) { return abs(x.imaginary) < abs(y.imaginary) }
            return lhs.offset < rhs.offset
        }.map(\.element)
        let isReal = sorted.map { abs($0.imaginary) <= tolerance * $0.magnitude }
        let reals = zip(sorted, isReal).filter { $0.1 }.map { Complex($0.0.real, 0) }
        var positive = zip(sorted, isReal).filter { !$0.1 && $0.0.imaginary > 0 }.map(\.0)
        var negative = zip(sorted, isReal).filter { !$0.1 && $0.0.imaginary < 0 }.map(\.0)
        // Within runs of (nearly) equal real parts, order by |imaginary part| so that partners line up.
        var start = 0
        while start < positive.count {
            var end = start + 1
            while end < positive.count,
                  positive[end].real - positive[end - 1].real <= tolerance * positive[end - 1].magnitude { end += 1 }
            if end - start > 1 {
                positive[start..<end].sort { abs($0.imaginary) < abs($1.imaginary) }
                if end <= negative.count { negative[start..<end].sort { abs($0.imaginary) < abs($1.imaginary) } }
            }
            start = end
        }
        let halves = positive.indices.map { index in
            index < negative.count ? (positive[index] + negative[index].conjugate) * 0.5 : positive[index]
        }
        return halves + reals
    }

    // MARK: Response

    /// |H(e^{iω})| of one pass at `frequency` Hz; the zero-phase filter's gain is its square.
    public func gain(at frequency: Double) -> Double {
        let omega = 2 * Double.pi * frequency / samplingRate
        let z1 = Complex(cos(omega), -sin(omega))  // z⁻¹
        let z2 = z1 * z1
        var magnitude = 1.0
        for section in sections {
            let numerator = Complex(section.b0, 0) + z1 * section.b1 + z2 * section.b2
            let denominator = Complex(1, 0) + z1 * section.a1 + z2 * section.a2
            magnitude *= numerator.magnitude / denominator.magnitude
        }
        return magnitude
    }

    // MARK: Zero-phase filtering

    /// The samples SciPy's `sosfiltfilt` adds at each end by odd reflection: 3 × (2·sections + 1 − the number of
    /// sections whose b2 and a2 are both zero, counted as min(#b2 = 0, #a2 = 0)), so that an odd-order design
    /// pads as much as `filtfilt` on the equivalent transfer function would.
    public var defaultPadLength: Int {
        let zeroB2 = sections.filter { $0.b2 == 0 }.count
        let zeroA2 = sections.filter { $0.a2 == 0 }.count
        return 3 * (2 * sections.count + 1 - min(zeroB2, zeroA2))
    }

    /// The pad used on a recording of `samples` samples: `defaultPadLength`, shortened to `samples − 1` on
    /// recordings too short for it (where SciPy raises instead), since an odd reflection needs that many samples.
    public func padLength(samples: Int) -> Int { max(0, min(defaultPadLength, samples - 1)) }

    /// Zero-phase filters every channel of a channels × samples row-major recording in place, as
    /// `scipy.signal.sosfiltfilt(sos, x, axis=-1)`: each row is extended at both ends by odd reflection about its
    /// end values, filtered forwards starting from the cascade's steady state for the first value (SciPy's
    /// `sosfilt_zi` scaled by it), then backwards from the steady state for the last forward output, and cut
    /// back to its length.
    ///
    /// Each section's recursion is a serial chain of multiply-adds, so one channel alone leaves most of a core
    /// idle; channels are therefore filtered 2 or 4 at a time in the lanes of a SIMD vector (4 when there are at
    /// least 4 channels per thread), and these groups run in parallel on up to `threads` threads. Lanes do not
    /// interact and every lane does the same operations in the same order, so each channel's result is
    /// bit-identical whatever the thread count or grouping. Time is O(samples) per channel, with one scratch copy
    /// of a group's rows (plus the pads) per thread.
    public func filter(_ recording: inout [Double], channels: Int, samples: Int,
                       threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(channels >= 0 && samples >= 0 && recording.count == channels * samples,
                     "ButterworthBandpass.filter: \(recording.count) values for \(channels) × \(samples)")
        guard channels > 0, samples > 0 else { return }
        let plan = FilterPlan(sections: sections, samples: samples, pad: padLength(samples: samples))
        let threads = max(1, threads)
        let width = channels >= 4 * threads ? 4 : 2
        let groups = (channels + width - 1) / width
        let workers = min(threads, groups)
        recording.withUnsafeMutableBufferPointer { buffer in
            let rows = SharedRows(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for group in stride(from: worker, to: groups, by: workers) {
                    let members = (group * width)..<min(channels, (group + 1) * width)
                    let pointers = members.map { rows.base + $0 * samples }
                    if width == 4 {
                        plan.filterRows(pointers, lanes: SIMD4<Double>.self)
                    } else {
                        plan.filterRows(pointers, lanes: SIMD2<Double>.self)
                    }
                }
            }
        }
    }

    /// `filter` on a copy.
    public func filtered(_ recording: [Double], channels: Int, samples: Int,
                         threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [Double] {
        var copy = recording
        filter(&copy, channels: channels, samples: samples, threads: threads)
        return copy
    }
}

/// What filtering rows of one length needs: the sections, SciPy's `sosfilt_zi` steady states, and the pad.
private struct FilterPlan: Sendable {
    let sections: [SecondOrderSection]
    /// Each section's state after a long run of input 1 into the whole cascade: its unit-step steady state scaled
    /// by the DC gain of the sections before it (their steady output is its steady input), as `sosfilt_zi`.
    let steadyStates: [(Double, Double)]
    let samples: Int
    let pad: Int

    init(sections: [SecondOrderSection], samples: Int, pad: Int) {
        self.sections = sections
        var scale = 1.0
        steadyStates = sections.map { section in
            let state = section.unitStepState
            defer { scale *= section.dcGain }
            return (scale * state.0, scale * state.1)
        }
        self.samples = samples
        self.pad = pad
    }

    /// Zero-phase filters up to V.scalarCount rows together, one per lane (spare lanes carry zeros).
    func filterRows<V: SIMD>(_ rows: [UnsafeMutablePointer<Double>], lanes: V.Type) where V.Scalar == Double {
        let n = samples, length = samples + 2 * pad
        let scratch = UnsafeMutablePointer<V>.allocate(capacity: length)
        defer { scratch.deallocate() }
        // Odd extension: x[−k] = 2·x[0] − x[k] and x[n−1+k] = 2·x[n−1] − x[n−1−k], k = 1…pad; interleaved by lane.
        scratch.initialize(repeating: V(), count: length)
        for (lane, row) in rows.enumerated() {
            let first = row[0], last = row[n - 1]
            for k in 0..<pad { scratch[k][lane] = 2 * first - row[pad - k] }
            for t in 0..<n { scratch[pad + t][lane] = row[t] }
            for k in 0..<pad { scratch[pad + n + k][lane] = 2 * last - row[n - 2 - k] }
        }
        runCascade(scratch, count: length, step: 1, initialInput: scratch[0])
        runCascade(scratch + (length - 1), count: length, step: -1, initialInput: scratch[length - 1])
        for (lane, row) in rows.enumerated() {
            for t in 0..<n { row[t] = scratch[pad + t][lane] }
        }
    }

    /// Runs the cascade in place over `count` vectors from `start`, moving by `step` (±1), each section starting
    /// from its steady state for a constant input `initialInput`. Sections go two per sweep, so that the second
    /// section's recursion overlaps the first's on the next sample.
    private func runCascade<V: SIMD>(_ start: UnsafeMutablePointer<V>, count: Int, step: Int,
                                     initialInput: V) where V.Scalar == Double {
        var index = 0
        while index < sections.count {
            let s = Coefficients<V>(sections[index])
            var u0 = steadyStates[index].0 * initialInput, u1 = steadyStates[index].1 * initialInput
            if index + 1 < sections.count {
                let t = Coefficients<V>(sections[index + 1])
                var v0 = steadyStates[index + 1].0 * initialInput, v1 = steadyStates[index + 1].1 * initialInput
                var pointer = start
                for _ in 0..<count {
                    // Transposed direct form II, as SciPy's `_sosfilt`.
                    let x = pointer.pointee
                    let y = s.b0 * x + u0
                    u0 = s.b1 * x - s.a1 * y + u1
                    u1 = s.b2 * x - s.a2 * y
                    let w = t.b0 * y + v0
                    v0 = t.b1 * y - t.a1 * w + v1
                    v1 = t.b2 * y - t.a2 * w
                    pointer.pointee = w
                    pointer += step
                }
                index += 2
            } else {
                var pointer = start
                for _ in 0..<count {
                    let x = pointer.pointee
                    let y = s.b0 * x + u0
                    u0 = s.b1 * x - s.a1 * y + u1
                    u1 = s.b2 * x - s.a2 * y
                    pointer.pointee = y
                    pointer += step
                }
                index += 1
            }
        }
    }

    /// A section's coefficients broadcast to every lane.
    private struct Coefficients<V: SIMD> where V.Scalar == Double {
        let b0: V, b1: V, b2: V, a1: V, a2: V
        init(_ section: SecondOrderSection) {
            (b0, b1, b2) = (V(repeating: section.b0), V(repeating: section.b1), V(repeating: section.b2))
            (a1, a2) = (V(repeating: section.a1), V(repeating: section.a2))
        }
    }
}

/// The base of a buffer whose rows are written by different threads, one row per thread at a time.
struct SharedRows: @unchecked Sendable {
    let base: UnsafeMutablePointer<Double>
}

/// Just enough complex arithmetic for filter design (the standard library has none).
private struct Complex: Equatable {
    var real: Double
    var imaginary: Double

    init(_ real: Double, _ imaginary: Double) { (self.real, self.imaginary) = (real, imaginary) }

    var conjugate: Complex { Complex(real, -imaginary) }
    var magnitude: Double { hypot(real, imaginary) }
    var isReal: Bool { imaginary == 0 }

    static func + (lhs: Complex, rhs: Complex) -> Complex { Complex(lhs.real + rhs.real, lhs.imaginary + rhs.imaginary) }
    static func - (lhs: Complex, rhs: Complex) -> Complex { Complex(lhs.real - rhs.real, lhs.imaginary - rhs.imaginary) }
    static prefix func - (value: Complex) -> Complex { Complex(-value.real, -value.imaginary) }
    static func * (lhs: Complex, rhs: Complex) -> Complex {
        Complex(lhs.real * rhs.real - lhs.imaginary * rhs.imaginary, lhs.real * rhs.imaginary + lhs.imaginary * rhs.real)
    }
    static func * (lhs: Complex, rhs: Double) -> Complex { Complex(lhs.real * rhs, lhs.imaginary * rhs) }
    /// Smith's algorithm, which avoids overflow in |rhs|².
    static func / (lhs: Complex, rhs: Complex) -> Complex {
        if abs(rhs.real) >= abs(rhs.imaginary) {
            let ratio = rhs.imaginary / rhs.real, denominator = rhs.real + rhs.imaginary * ratio
            return Complex((lhs.real + lhs.imaginary * ratio) / denominator,
                           (lhs.imaginary - lhs.real * ratio) / denominator)
        }
        let ratio = rhs.real / rhs.imaginary, denominator = rhs.real * ratio + rhs.imaginary
        return Complex((lhs.real * ratio + lhs.imaginary) / denominator, (lhs.imaginary * ratio - lhs.real) / denominator)
    }

    /// The principal square root (non-negative real part; the sign of a zero imaginary part picks the branch on
    /// the negative real axis, as C's `csqrt` and NumPy do).
    func squareRoot() -> Complex {
        if real == 0 && imaginary == 0 { return Complex(0, imaginary) }
        let modulus = magnitude
        if real >= 0 {
            let t = ((modulus + real) / 2).squareRoot()
            return Complex(t, imaginary / (2 * t))
        }
        let t = ((modulus - real) / 2).squareRoot()
        return Complex(abs(imaginary) / (2 * t), imaginary.sign == .minus ? -t : t)
    }
}
