import Foundation

/// An output file written under a temporary name in its final folder and renamed into place only when
/// complete (rename is atomic within a file system): readers never see a partial file.
public final class AtomicOutput: @unchecked Sendable {
    public let path: String
    public let temporaryPath: String
    private let force: Bool
    private var finished = false

    /// Checks everything that can be checked before the (possibly long) analysis runs, and reserves the
    /// temporary file, so that a run fails in its first second rather than after an hour.
    /// - Throws: `.usage` when the output is one of the inputs; `.cannotCreate` when it exists without `force`,
    ///   is a directory, or its folder is missing or not writable.
    public init(path: String, force: Bool, inputs: [String] = []) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let folder = url.deletingLastPathComponent().path
        for input in inputs where AtomicOutput.sameFile(path, input) {
            throw NFXError.usage("the output \(path) is the input file; nfx never overwrites its input",
                                 hint: "choose another path with -o")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                throw NFXError.cannotCreate("the output \(path) is a directory", hint: "give a file name with -o")
            }
            if !force {
                throw NFXError.cannotCreate("the output \(path) already exists", hint: "pass --force to overwrite it")
            }
        }
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NFXError.cannotCreate("cannot write \(path): the folder \(folder) does not exist",
                                        hint: "create it first (mkdir -p \(folder))")
        }
        let name = url.lastPathComponent
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        temporaryPath = folder + "/." + name + ".tmp-\(getpid())-" + suffix
        self.path = path
        self.force = force
        // Registered before it exists, so a signal in between cannot leave it behind.
        TemporaryFiles.shared.register(temporaryPath)
        let descriptor = open(temporaryPath, O_CREAT | O_EXCL | O_WRONLY, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            TemporaryFiles.shared.unregister(temporaryPath)
            throw NFXError.cannotCreate("cannot write in \(folder): \(reason)",
                                        hint: "choose a writable folder with -o")
        }
        close(descriptor)
    }

    /// Moves the finished temporary file into place. With `force` an existing file is replaced (rename); without,
    /// the file is linked in (which fails if another process created the name meanwhile) and the temporary removed.
    public func commit() throws {
        guard !finished else { return }
        finished = true
        let failure: (code: Int32, existed: Bool)? = TemporaryFiles.shared.withSignalsHeld {
            let moved = force ? rename(temporaryPath, path) : link(temporaryPath, path)
            let code = errno
            unlink(temporaryPath)
            TemporaryFiles.shared.unregisterHeld(temporaryPath)
            return moved == 0 ? nil : (code, code == EEXIST)
        }
        if let failure {
            if failure.existed {
                throw NFXError.cannotCreate("the output \(path) appeared while nfx was running; nothing was overwritten",
                                            hint: "pass --force to overwrite it")
            }
            throw NFXError.io("cannot move the finished output into place at \(path): \(String(cString: strerror(failure.code)))")
        }
    }

    /// Removes the temporary file; the destination is left as it was.
    public func discard() {
        guard !finished else { return }
        finished = true
        unlink(temporaryPath)
        TemporaryFiles.shared.unregister(temporaryPath)
    }

    deinit { discard() }

    /// Same file by device and inode when both exist, else by normalised absolute path.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var statA = stat(), statB = stat()
        if stat(a, &statA) == 0, stat(b, &statB) == 0 {
            return statA.st_dev == statB.st_dev && statA.st_ino == statB.st_ino
        }
        let resolve = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
        return resolve(a) == resolve(b)
    }
}
