import Foundation

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The few argv words nfx-bench takes: a mode, positionals, and `--name value` integer options.
struct Arguments {
    let mode: String
    private(set) var positionals: [String] = []
    private var options: [String: String] = [:]

    init(_ words: [String]) throws {
        guard let mode = words.first else { throw UsageError("missing mode") }
        self.mode = mode
        var rest = words.dropFirst()
        while let word = rest.popFirst() {
            if word.hasPrefix("--") {
                guard let value = rest.popFirst() else { throw UsageError("\(word) needs a value") }
                options[String(word.dropFirst(2))] = value
            } else {
                positionals.append(word)
            }
        }
    }

    /// Reads and consumes an option, so `expectPositionals` can reject the ones no mode knows.
    mutating func integer(_ name: String, default value: Int) throws -> Int {
        guard let text = options.removeValue(forKey: name) else { return value }
        guard let number = Int(text), number > 0 else { throw UsageError("--\(name) must be a positive integer") }
        return number
    }

    /// An optional real-valued option (nil when absent).
    mutating func double(_ name: String) throws -> Double? {
        guard let text = options.removeValue(forKey: name) else { return nil }
        guard let number = Double(text), number.isFinite else { throw UsageError("--\(name) must be a number") }
        return number
    }

    /// An optional text option (nil when absent).
    mutating func optionalString(_ name: String) throws -> String? {
        options.removeValue(forKey: name)
    }

    mutating func string(_ name: String, default value: String) throws -> String {
        options.removeValue(forKey: name) ?? value
    }

    func expectPositionals(_ count: Int) throws {
        if let unknown = options.keys.sorted().first { throw UsageError("unknown option --\(unknown) for \(mode)") }
        guard positionals.count == count else {
            throw UsageError("\(mode) takes \(count) argument\(count == 1 ? "" : "s"), got \(positionals.count)")
        }
    }
}

/// Wall-clock seconds of `body`, on the monotonic clock.
func seconds(of body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// One compact JSON line with sorted keys, so the Python side can parse the last line of stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A correctly rounded sum (Shewchuk's exact partials, as Python's `math.fsum`), so that nfx and the Python
/// peers get bit-identical checksums of identical data whatever order they add in.
struct ExactSum {
    private var partials: [Double] = []

    mutating func add(_ value: Double) {
        var x = value
        var kept = 0
        for index in partials.indices {
            var y = partials[index]
            if abs(x) < abs(y) { swap(&x, &y) }
            let high = x + y
            let low = y - (high - x)
            if low != 0 {
                partials[kept] = low
                kept += 1
            }
            x = high
        }
        partials.removeSubrange(kept...)
        partials.append(x)
    }

    /// The partials are non-overlapping and ascending in magnitude; adding them from the top with a
    /// half-way correction gives the correctly rounded total.
    var value: Double {
        guard var index = partials.indices.last else { return 0 }
        var high = partials[index]
        var low = 0.0
        while index > 0 {
            index -= 1
            let x = high, y = partials[index]
            high = x + y
            low = y - (high - x)
            if low != 0 { break }
        }
        if index > 0, (low < 0 && partials[index - 1] < 0) || (low > 0 && partials[index - 1] > 0) {
            let y = low * 2
            let x = high + y
            if y == x - high { high = x }
        }
        return high
    }
}

/// Sum and sum of squares, both correctly rounded: the checksums every mode reports.
func checksums(_ values: UnsafeBufferPointer<Double>) -> (sum: Double, sumOfSquares: Double) {
    var sum = ExactSum(), squares = ExactSum()
    for value in values {
        sum.add(value)
        squares.add(value * value)
    }
    return (sum.value, squares.value)
}
