import ArgumentParser
import CKernels
import Foundation
import NFXIO

@main
struct NFX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nfx",
        abstract: "Find patterns in large-scale neural recordings.",
        discussion: """
        Inputs are HDF5 (NWB files are HDF5) or NumPy .npy, given as PATH or PATH:DATASET; results are HDF5.
        Exit codes: 0 ok, 64 usage, 65 bad data, 66 input missing, 70 internal error, 73 cannot create output,
        74 I/O error.
        """,
        version: NFXVersion.current,
        subcommands: [Simulate.self, Info.self, FactorizeCommand.self, TCACommand.self, DeconvolveCommand.self,
                      CDLTrainCommand.self, SpikesortCommand.self, FixedPointsCommand.self,
                      CompareCommand.self]
    )

    /// Parses, runs, and turns every failure into the contract's one-line error and exit code.
    static func main() {
        nfx_reuse_freed_blocks()
        TemporaryFiles.shared.installSignalHandlers()
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(reporting: error)
        }
        do {
            try command.run()
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch let error as ValidationError {
            exit(reporting: error)
        } catch where exitCode(for: error) == .success {
            // --help and --version arrive from run() as ArgumentParser's clean exits.
            NFX.exit(withError: error)
        } catch {
            // Past parsing, anything that is not already an NFXError is classified, or reported as a bug (70).
            exit(reporting: NFXError.wrapping(error))
        }
    }

    static func exit(reporting error: Error) -> Never {
        let prefix = commandName(for: CommandLine.arguments)
        if let error = error as? NFXError {
            printError(prefix, error.message, hint: error.hint)
            Foundation.exit(error.exitCode)
        }
        if let error = error as? ExitCode {
            Foundation.exit(error.rawValue)
        }
        let code = exitCode(for: error)
        if code == .success {
            // --help, --version: ArgumentParser prints them.
            NFX.exit(withError: error)
        }
        let message = NFX.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        printError(prefix, message, hint: "see '\(prefix) --help'")
        Foundation.exit(NFXError.Kind.usage.rawValue)
    }

    static func printError(_ prefix: String, _ message: String, hint: String?) {
        var text = "\(prefix): error: \(message)\n"
        if let hint { text += "hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// "nfx simulate", "nfx info", … for error lines; "nfx" when no subcommand was recognised.
    static func commandName(for arguments: [String]) -> String {
        let names = configuration.subcommands.map { $0._commandName }
        guard arguments.count > 1, names.contains(arguments[1]) else { return "nfx" }
        return "nfx \(arguments[1])"
    }
}
