/// Why fixed points could not be found; each message says what to change.
public enum FixedPointError: Error, CustomStringConvertible, Equatable, Sendable {
    case inconsistentModel(String)
    case tooManyRegions(bound: Double, limit: Double)
    case bruteForceTooLarge(units: Int, limit: Int, patterns: String)
    case needsPiecewiseLinear(method: String)

    public var description: String {
        switch self {
        case .inconsistentModel(let what):
            return "inconsistent RNN model: \(what)"
        case .tooManyRegions(let bound, let limit):
            return "the arrangement may have up to \(formatCount(bound)) regions, above --max-regions \(formatCount(limit)); "
                + "use --method search, or raise --max-regions"
        case .bruteForceTooLarge(let units, let limit, let patterns):
            return "--method brute tries all \(patterns) activation patterns and is limited to \(limit) units (this model has \(units)); use --method analytic"
        case .needsPiecewiseLinear(let method):
            return "--method \(method) needs a piecewise-linear activation (relu or clipped-relu); use --method search for tanh"
        }
    }
}

/// 1.7e11 style for huge counts, plain digits below a million.
public func formatCount(_ value: Double) -> String {
    value < 1e6 ? String(Int(value)) : String(format: "%.2g", value)
}

import Foundation
