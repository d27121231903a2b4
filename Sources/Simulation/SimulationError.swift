import Foundation

/// Why a simulation could not be generated. Every message names the command-line flag to change, because the CLI
/// prints it as the final error line (exit code 64, a usage error).
public enum SimulationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A parameter is out of its valid range; `message` names the flag and the allowed values.
    case invalidOption(flag: String, message: String)
    /// The requested output would not fit in memory or exceeds what BLAS addresses with 32-bit sizes.
    case tooLarge(message: String)

    /// The flag to blame, e.g. `--rank`, when there is one.
    public var flag: String? {
        if case .invalidOption(let flag, _) = self { return flag }
        return nil
    }

    public var description: String {
        switch self {
        case .invalidOption(_, let message), .tooLarge(let message): return message
        }
    }
}

/// Validation shared by the generators; each check throws a message that starts with the flag's name.
enum Check {
    /// The most values one generated dataset may hold: 2³¹ − 1 (16 GiB of Float64), which also keeps every
    /// dimension within CBLAS's 32-bit sizes.
    static let maximumElements = Int(Int32.max)

    /// seconds × rate as a whole number of samples, saturating instead of trapping on absurd values (validation
    /// then rejects them with a message).
    static func sampleCount(_ samples: Double) -> Int {
        guard samples.isFinite else { return samples > 0 ? Int(Int32.max) : 0 }
        return Int(min(max(samples, 0), Double(Int32.max)).rounded())
    }

    static func atLeast(_ value: Int, _ minimum: Int, _ flag: String) throws {
        guard value >= minimum else {
            throw SimulationError.invalidOption(flag: flag, message: "\(flag) must be at least \(minimum) (got \(value))")
        }
    }

    static func positive(_ value: Double, _ flag: String) throws {
        guard value.isFinite, value > 0 else {
            throw SimulationError.invalidOption(flag: flag,
                                                message: "\(flag) must be a positive finite number (got \(value))")
        }
    }

    static func nonNegative(_ value: Double, _ flag: String) throws {
        guard value.isFinite, value >= 0 else {
            throw SimulationError.invalidOption(
                flag: flag, message: "\(flag) must be a finite number ≥ 0 (got \(value))")
        }
    }

    static func finite(_ value: Double, _ flag: String) throws {
        guard value.isFinite else {
            throw SimulationError.invalidOption(flag: flag, message: "\(flag) must be a finite number (got \(value))")
        }
    }

    /// Throws when the product of `sizes` overflows or exceeds `maximumElements`; `what` lists the flags involved.
    static func size(_ sizes: [Int], _ what: String) throws {
        var total = 1
        for size in sizes {
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= maximumElements else {
                throw SimulationError.tooLarge(
                    message: "\(what) = \(sizes.map(String.init).joined(separator: " × ")) values is too large "
                        + "(at most \(maximumElements)); reduce \(what)")
            }
            total = product
        }
        // Generators hold a few arrays of this size at once; refuse what would exhaust the machine.
        let bytes = Double(total) * 8 * 4
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes <= memory else {
            throw SimulationError.tooLarge(
                message: "\(what) = \(sizes.map(String.init).joined(separator: " × ")) values needs about "
                    + "\(Int(bytes / 1e9)) GB, more than this machine's \(Int(memory / 1e9)) GB; reduce \(what)")
        }
    }
}
