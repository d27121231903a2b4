import Foundation

/// Where a command's words go: results on stdout, progress and warnings on stderr (contract: "Command line").
public struct Reporter: Sendable {
    public let quiet: Bool
    public let json: Bool
    /// Progress lines only make sense on a terminal; in a pipe or a log they are noise.
    public let showsProgress: Bool

    public init(quiet: Bool = false, json: Bool = false) {
        self.quiet = quiet
        self.json = json
        showsProgress = !quiet && isatty(STDERR_FILENO) == 1
    }

    /// A human summary line on stdout, unless --quiet or --json.
    public func result(_ line: String) {
        guard !quiet && !json else { return }
        print(line)
    }

    public func warning(_ command: String, _ message: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data("nfx \(command): warning: \(message)\n".utf8))
    }

    /// A progress line that overwrites itself; `done` ends it with a newline.
    public func progress(_ message: String, done: Bool = false) {
        guard showsProgress else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(message)\(done ? "\n" : "")".utf8))
    }

    /// The one machine-readable line of --json.
    public func summary(_ fields: [String: JSONValue]) {
        guard json else { return }
        print(JSONValue.object(fields).encoded)
    }
}

/// A JSON value with a stable encoding (keys sorted), for --json summaries.
public enum JSONValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public var encoded: String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .integer(let i): return "\(i)"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let values): return "[" + values.map(\.encoded).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { JSONValue.quote($0) + ":" + fields[$0]!.encoded }
                .joined(separator: ",") + "}"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    public static func shape(_ shape: [Int]) -> JSONValue { .array(shape.map { .integer($0) }) }
}
