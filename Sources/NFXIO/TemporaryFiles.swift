import Dispatch
import Foundation

/// Temporary output files that must not outlive the process: removed on SIGINT, SIGTERM and SIGHUP, so that an
/// interrupted run leaves neither a partial output nor a temporary behind.
public final class TemporaryFiles: @unchecked Sendable {
    public static let shared = TemporaryFiles()

    private let lock = NSLock()
    private var paths: Set<String> = []
    private var signalSources: [DispatchSourceSignal] = []
    private var handlersInstalled = false

    private init() {}

    public func register(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        installSignalHandlersOnce()
        paths.insert(path)
    }

    /// Installs the handlers now; call at start-up so no signal can arrive between creating a temporary file and
    /// registering it.
    public func installSignalHandlers() {
        lock.lock()
        defer { lock.unlock() }
        installSignalHandlersOnce()
    }

    /// Runs `body` (which must not register or unregister) with the handler held off, so that a signal cannot
    /// land between moving a finished file into place and forgetting its temporary name.
    public func withSignalsHeld<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Forgets a path while `withSignalsHeld` holds the lock.
    public func unregisterHeld(_ path: String) { paths.remove(path) }

    public func unregister(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        paths.remove(path)
    }

    /// Signals are taken off their default action and handled on a dispatch queue, so the handler may run
    /// ordinary code while the main thread is busy writing.
    private func installSignalHandlersOnce() {
        guard !handlersInstalled else { return }
        handlersInstalled = true
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            // A signal the parent told us to ignore (nohup, a background job) stays ignored.
            let previous = signal(signalNumber, SIG_IGN)
            if let previous, unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [unowned self] in self.removeAllAndExit(signal: signalNumber) }
            source.resume()
            signalSources.append(source)
        }
    }

    private func removeAllAndExit(signal signalNumber: Int32) -> Never {
        lock.lock()
        for path in paths { unlink(path) }
        lock.unlock()
        let name = signalNumber == SIGINT ? "interrupted" : "terminated by signal \(signalNumber)"
        FileHandle.standardError.write(Data("nfx: \(name); no output was written\n".utf8))
        // _exit skips atexit handlers: HDF5's would try to flush the file we just removed.
        _exit(128 + signalNumber)
    }
}
