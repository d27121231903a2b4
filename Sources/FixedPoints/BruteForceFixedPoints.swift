/// The ground truth for small networks: solve the affine map of every activation pattern (2^n for ReLU, 3^n for
/// clipped ReLU: off, linear, saturated) and keep the solutions consistent with their pattern.
/// Patterns are visited as an odometer, so moving to the next changes one unit on average and the map is
/// updated by rank-1 terms rather than rebuilt.
public func bruteForceFixedPoints(_ model: LowRankRNN) throws -> FixedPointResult {
    guard model.activation.isPiecewiseLinear else { throw FixedPointError.needsPiecewiseLinear(method: "brute") }
    let states = model.activation == .clippedRelu ? 3 : 2
    let limit = states == 3 ? bruteForceLimitClipped : bruteForceLimitReLU
    guard model.units <= limit else {
        throw FixedPointError.bruteForceTooLarge(units: model.units, limit: limit,
                                                 patterns: states == 3 ? "3^n" : "2^n")
    }
    let arrangement = SwitchingArrangement(model)
    let R = model.rank, n = model.units
    // Hyperplanes of unit j: index j (ReLU) or 2j, 2j + 1 (clipped); state s turns on the first s of them.
    let perUnit = states - 1
    var digits = [Int](repeating: 0, count: n)
    var positive = [Bool](repeating: false, count: arrangement.count)
    var K = [Double](repeating: 0, count: R * R), k = [Double](repeating: 0, count: R)
    var scratch = [Double](repeating: 0, count: R * R), z = [Double](repeating: 0, count: R)
    var candidates: [[Double]] = []
    var patterns = 0, singular = 0

    func toggle(_ h: Int, on: Bool) {
        positive[h] = on
        K.withUnsafeMutableBufferPointer { Kp in
            k.withUnsafeMutableBufferPointer { kp in
                arrangement.accumulate(h, sign: on ? 1 : -1, K: Kp.baseAddress!, k: kp.baseAddress!)
            }
        }
    }

    while true {
        patterns += 1
        let solved = K.withUnsafeBufferPointer { Kp in
            k.withUnsafeBufferPointer { kp in
                scratch.withUnsafeMutableBufferPointer { s in
                    z.withUnsafeMutableBufferPointer { zp in
                        arrangement.solveFixedPoint(K: Kp.baseAddress!, k: kp.baseAddress!, scratch: s.baseAddress!,
                                                    z: zp.baseAddress!)
                    }
                }
            }
        }
        if solved {
            let consistent = z.withUnsafeBufferPointer { zp -> Bool in
                for h in 0..<arrangement.count {
                    let value = arrangement.value(h, at: zp.baseAddress!)
                    let tolerance = arrangement.tolerance(h, at: zp.baseAddress!)
                    if positive[h] ? value < -tolerance : value > tolerance { return false }
                }
                return true
            }
            if consistent { candidates.append(z) }
        } else {
            singular += 1
        }
        // Next pattern: increment the odometer, updating only the units whose state changes.
        var unit = 0
        while unit < n {
            let old = digits[unit]
            let new = (old + 1) % states
            digits[unit] = new
            if new > old {
                toggle(unit * perUnit + old, on: true)
            } else {
                for level in stride(from: old - 1, through: 0, by: -1) { toggle(unit * perUnit + level, on: false) }
            }
            if new != 0 { break }
            unit += 1
        }
        if unit == n { break }
    }
    return FixedPointResult(method: .brute, points: finalize(candidates, model: model), regionsSearched: patterns,
                            regionBound: regionBound(hyperplanes: arrangement.count, rank: R),
                            singularRegions: singular)
}

/// 2^24 ≈ 1.7·10^7 patterns.
public let bruteForceLimitReLU = 24
/// 3^15 ≈ 1.4·10^7 patterns.
public let bruteForceLimitClipped = 15
