import Foundation

/// `PATH` or `PATH:DATASET`, as every analysis takes its input (e.g. `rec.nwb:/acquisition/ElectricalSeries/data`).
public struct InputSpec: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    /// The dataset inside an HDF5 file; nil means "choose the only suitable one".
    public let dataset: String?

    public init(path: String, dataset: String? = nil) {
        self.path = path
        self.dataset = dataset
    }

    /// Splits at the last `:` unless the whole argument names an existing file (paths may contain colons).
    public init(parsing argument: String) {
        if FileManager.default.fileExists(atPath: argument) {
            self.init(path: argument)
            return
        }
        guard let colon = argument.lastIndex(of: ":") else {
            self.init(path: argument)
            return
        }
        let path = String(argument[..<colon])
        var dataset = String(argument[argument.index(after: colon)...])
        if dataset.isEmpty {
            self.init(path: path)
            return
        }
        if !dataset.hasPrefix("/") { dataset = "/" + dataset }
        self.init(path: path, dataset: dataset)
    }

    public var description: String { dataset.map { "\(path):\($0)" } ?? path }
}
