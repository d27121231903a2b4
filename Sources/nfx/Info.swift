import ArgumentParser
import Foundation
import HDF5Kit
import NFXCore
import NFXIO

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what an HDF5 or .npy file holds.",
        discussion: """
        Every group and dataset with its shape, type, chunking and compression, and the file's attributes.

        Examples:
          nfx info recording.nwb
          nfx info result.h5 --json
        """
    )

    @Argument(help: ArgumentHelp("An HDF5 (.h5, .hdf5, .nwb) or NumPy .npy file.", valueName: "file"))
    var file: String

    @Flag(help: "Print one JSON line instead of the table.")
    var json = false

    func run() throws {
        try InputLoader.checkReadableFile(file)
        if try InputLoader.format(of: file) == .npy {
            do {
                report(npy: try NPY.parseHeader(Data(contentsOf: URL(fileURLWithPath: file), options: .mappedIfSafe)))
            } catch {
                throw NFXError.wrapping(error, file: file)
            }
            return
        }
        do {
            let hdf5 = try HDF5File.open(file)
            try report(hdf5: hdf5)
        } catch let error as HDF5Error {
            throw NFXError(error)
        }
    }

    private func report(npy header: NPY.Header) {
        let type = "\(header.bigEndian ? ">" : "<")\(header.elementType.rawValue)"
        if json {
            print(JSONValue.object([
                "file": .string(file), "format": .string("npy"), "shape": .shape(header.shape),
                "type": .string(String(describing: header.elementType)), "fortran_order": .bool(header.fortranOrder),
            ]).encoded)
        } else {
            print("\(file): NumPy .npy, \(header.elementType) (\(type)), \(describeShape(header.shape)), "
                  + (header.fortranOrder ? "Fortran order" : "C order"))
        }
    }

    private func report(hdf5: HDF5File) throws {
        let rootAttributes = try hdf5.root.allAttributes()
        let objects = try hdf5.walk()
        if json {
            var attributes: [String: JSONValue] = [:]
            for (name, value) in rootAttributes { attributes[name] = jsonValue(value) }
            let entries: [JSONValue] = objects.map { object in
                var fields: [String: JSONValue] = [
                    "path": .string(object.path),
                    "kind": .string(object.kind == .group ? "group" : object.kind == .dataset ? "dataset" : "other"),
                ]
                if let storage = object.dataset {
                    fields["shape"] = .shape(storage.shape)
                    fields["type"] = .string(storage.elementType.description)
                    fields["chunks"] = storage.chunks.map { .shape($0) } ?? .null
                    fields["filters"] = .array(storage.filters.map { .string($0) })
                }
                if !object.attributes.isEmpty {
                    var objectAttributes: [String: JSONValue] = [:]
                    for (name, value) in object.attributes { objectAttributes[name] = jsonValue(value) }
                    fields["attributes"] = .object(objectAttributes)
                }
                return .object(fields)
            }
            print(JSONValue.object(["file": .string(file), "format": .string("hdf5"),
                                    "attributes": .object(attributes), "objects": .array(entries)]).encoded)
            return
        }

        print("\(file): HDF5")
        if !rootAttributes.isEmpty {
            print("attributes:")
            let width = rootAttributes.map(\.name.count).max() ?? 0
            for (name, value) in rootAttributes {
                print("  \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
            }
        }
        let pathWidth = max(4, objects.map(\.path.count).max() ?? 0)
        print("contents:")
        for object in objects {
            let path = object.path.padding(toLength: pathWidth, withPad: " ", startingAt: 0)
            let extras = object.attributes.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            switch (object.kind, object.dataset) {
            case (.dataset, let storage?):
                let type = pad(storage.elementType.description, 7)
                let shape = pad(describeShape(storage.shape), 18)
                var layout = storage.chunks.map { "chunks " + describeShape($0) } ?? "contiguous"
                if !storage.filters.isEmpty { layout += ", " + storage.filters.joined(separator: ", ") }
                print("  \(path)  \(type) \(shape) \(layout)\(extras.isEmpty ? "" : "  [\(extras)]")")
            case (.group, _):
                print("  \(path)  group\(extras.isEmpty ? "" : "   [\(extras)]")")
            default:
                print("  \(path)  (link or other object)")
            }
        }
    }

    /// Pads to `width` but never cuts: a long type or shape pushes the columns right instead.
    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }

    private func jsonValue(_ value: HDF5AttributeValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(s)
        case .strings(let s): return .array(s.map { .string($0) })
        case .double(let d): return .number(d)
        case .doubles(let d): return .array(d.map { .number($0) })
        case .integer(let i): return .integer(Int(i))
        case .integers(let i): return .array(i.map { .integer(Int($0)) })
        }
    }
}
