import Foundation
import HDF5Kit

public enum NFXVersion {
    public static let current = "0.1.0"
}

/// The root attributes every output file carries (contract: "Every output file"), so that a result says how
/// it was made: version, command line, input, seed, time taken and every parameter, defaults included.
public struct Provenance: @unchecked Sendable {
    public var command: String
    public var arguments: [String]
    public var inputFile: String?
    public var inputDataset: String?
    public var inputShape: [Int]?
    public var seed: UInt64?
    /// Parameter name (the flag with `-` as `_`) and value.
    public var parameters: [(name: String, value: HDF5AttributeValue)] = []
    public let started: Date

    /// `arguments` defaults to this process' command line, with the executable shown as `nfx`.
    public init(command: String, arguments: [String] = ["nfx"] + CommandLine.arguments.dropFirst(), seed: UInt64? = nil,
                started: Date = Date()) {
        self.command = command
        self.arguments = arguments
        self.seed = seed
        self.started = started
    }

    public mutating func record(input: LoadedInput) {
        inputFile = input.file
        inputDataset = input.dataset
        inputShape = input.storedShape
    }

    public mutating func record(input: RecordingReader) {
        inputFile = input.file
        inputDataset = input.dataset
        inputShape = input.storedShape
    }

    public mutating func record(_ name: String, _ value: HDF5AttributeValue) {
        parameters.removeAll { $0.name == name }
        parameters.append((name, value))
    }

    public mutating func record(_ name: String, _ value: Double) { record(name, .double(value)) }
    public mutating func record(_ name: String, _ value: Int) { record(name, .integer(Int64(value))) }
    public mutating func record(_ name: String, _ value: String) { record(name, .string(value)) }

    public var wallSeconds: Double { Date().timeIntervalSince(started) }

    public func write(to file: HDF5File) throws {
        let root = file.root
        try root.setAttribute("nfx_version", .string(NFXVersion.current))
        try root.setAttribute("nfx_command", .string(command))
        try root.setAttribute("nfx_argv", .string(arguments.map(Provenance.shellQuoted).joined(separator: " ")))
        try root.setAttribute("created_utc", .string(Provenance.utcTimestamp(started)))
        if let inputFile { try root.setAttribute("input_file", .string(inputFile)) }
        if let inputDataset { try root.setAttribute("input_dataset", .string(inputDataset)) }
        if let inputShape { try root.setAttribute("input_shape", .integers(inputShape.map { Int64($0) })) }
        if let seed { try root.setAttribute("seed", .integer(Int64(bitPattern: seed))) }
        for (name, value) in parameters { try root.setAttribute(name, value) }
        try root.setAttribute("wall_seconds", .double(wallSeconds))
    }

    /// ISO 8601 in UTC to the second ("2026-12-04T21:04:37Z", as ISO8601DateFormatter writes it), from the C
    /// library: Foundation's formatter loads the time-zone database first, about 5 ms of a 10 ms run.
    static func utcTimestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                      parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// Quotes an argument for a POSIX shell only when it needs it, so `nfx_argv` can be pasted back.
    static func shellQuoted(_ argument: String) -> String {
        let safe = CharacterSet(charactersIn:
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%")
        if !argument.isEmpty && argument.unicodeScalars.allSatisfy({ safe.contains($0) }) { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Writes one output file atomically: the datasets `body` writes, then the provenance attributes.
/// On any error the temporary file is removed and the destination is untouched.
public func writeOutput(_ output: AtomicOutput, provenance: Provenance,
                        _ body: (HDF5File) throws -> Void) throws {
    do {
        let file = try HDF5File.create(output.temporaryPath, overwrite: true)
        try body(file)
        try provenance.write(to: file)
        try file.close()
        try output.commit()
    } catch {
        output.discard()
        throw NFXError.wrapping(error, file: output.path)
    }
}
