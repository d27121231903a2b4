import Dispatch
import Foundation
import Synchronization

/// Threads that run the iterations of short parallel loops together with the caller, and between loops spin for a
/// while before they sleep, as OpenMP runtimes do (GOMP_SPINCOUNT, OMP_WAIT_POLICY).
///
/// Why not `DispatchQueue.concurrentPerform`: for a loop of about a millisecond (the AR(1) solve of one 10⁵-frame
/// trace), a thread that has to be woken often arrives after the caller has done every iteration alone. On the
/// 2-vCPU machines nfx is measured on, half of such solves took as long on two threads as on one. A helper still
/// spinning from the previous loop, or woken by `wake` while the caller prepares, starts at once.
///
/// One loop runs at a time: a `run` while another is under way (from a helper or another thread) falls back to
/// `concurrentPerform`. Each iteration runs exactly once; which thread runs it is not fixed, so bodies must not
/// depend on it.
public final class SpinningTeam: @unchecked Sendable {
    public static let shared = SpinningTeam()

    /// How long a helper spins for the next loop before it sleeps.
    public static let spinNanoseconds: UInt64 = 2_000_000

    /// Each of these holds the loop's generation in its high 32 bits, so that a helper still busy with an earlier
    /// loop can never take it for the current one: the next unclaimed iteration, the number of iterations, and the
    /// helpers that may still join.
    private let ticket = Atomic<Int>(0)
    private let iterationCount = Atomic<Int>(0)
    private let seats = Atomic<Int>(0)
    /// Iterations of the current loop that have returned.
    private let completed = Atomic<Int>(0)
    /// The current loop's body: written before its generation is published, read only by a thread that has claimed
    /// one of its iterations (the caller waits for that iteration before it writes the next body).
    private var body: (@Sendable (Int) -> Void)?
    private let caller = NSLock()
    /// Tests only: runs between a loop's count and its ticket, to widen the window a stale helper would need.
    var pauseBeforeTicket: (@Sendable () -> Void)?
    private let sleep = NSCondition()
    private var helperCount = 0

    public init() {}

    /// Runs `body(0)`, …, `body(iterations − 1)` on the caller and at most `threads − 1` helpers; returns when all
    /// have returned.
    public func run(iterations: Int, threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard iterations > 0 else { return }
        guard threads > 1, iterations > 1, iterations < 1 << 31 else {
            for index in 0..<iterations { body(index) }
            return
        }
        guard caller.try() else {
            DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
            return
        }
        defer { caller.unlock() }
        let generation = publish(iterations: iterations, helpers: threads - 1, body: body)
        work(generation: generation)
        while completed.load(ordering: .acquiring) < iterations {}
        self.body = nil
    }

    /// Wakes up to `helpers` helpers (starting them if need be), so that they are spinning when the next loop
    /// comes; for a caller that has some serial work to do first.
    public func wake(helpers: Int) {
        guard helpers > 0, caller.try() else { return }
        defer { caller.unlock() }
        _ = publish(iterations: 0, helpers: helpers, body: nil)
    }

    private func publish(iterations: Int, helpers: Int, body: (@Sendable (Int) -> Void)?) -> Int {
        let previous = generation(of: ticket.load(ordering: .relaxed))
        startHelpers(helpers, seen: previous)
        let generation = (previous + 1) & 0x7fff_ffff
        self.body = body
        completed.store(0, ordering: .relaxed)
        iterationCount.store(generation << 32 | iterations, ordering: .releasing)
        seats.store(generation << 32 | helpers, ordering: .releasing)
        pauseBeforeTicket?()
        ticket.store(generation << 32, ordering: .releasing)
        sleep.lock()
        sleep.broadcast()
        sleep.unlock()
        return generation
    }

    /// Starts helpers up to `wanted`; a new one waits for the loop after generation `seen`.
    private func startHelpers(_ wanted: Int, seen: Int) {
        while helperCount < wanted {
            helperCount += 1
            let thread = Thread { self.helperLoop(seen: seen) }
            thread.name = "nfx-spinning-team"
            thread.start()
        }
    }

    private func generation(of packed: Int) -> Int { packed >> 32 }

    private func helperLoop(seen start: Int) {
        var seen = start
        while true {
            var current = generation(of: ticket.load(ordering: .acquiring))
            if current == seen {
                let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
                // The clock is read every 64 polls: reading it is what the spinning spent most of its time on.
                var polls = 0
                while current == seen && (polls & 63 != 0 || DispatchTime.now().uptimeNanoseconds < deadline) {
                    current = generation(of: ticket.load(ordering: .acquiring))
                    polls &+= 1
                }
                if current == seen {
                    sleep.lock()
                    while generation(of: ticket.load(ordering: .acquiring)) == seen { sleep.wait() }
                    sleep.unlock()
                    current = generation(of: ticket.load(ordering: .acquiring))
                }
            }
            seen = current
            if takeSeat(generation: current) { work(generation: current) }
        }
    }

    /// One of loop `generation`'s seats, if it still has one (and is still the current loop).
    private func takeSeat(generation: Int) -> Bool {
        var packed = seats.load(ordering: .acquiring)
        while self.generation(of: packed) == generation && packed & 0xffff_ffff > 0 {
            let (taken, seen) = seats.compareExchange(expected: packed, desired: packed - 1,
                                                      ordering: .acquiringAndReleasing)
            if taken { return true }
            packed = seen
        }
        return false
    }

    /// Claims and runs iterations of loop `generation` until none is left (or a newer loop has begun).
    private func work(generation: Int) {
        var current = ticket.load(ordering: .acquiring)
        while self.generation(of: current) == generation {
            let index = current & 0xffff_ffff
            let count = iterationCount.load(ordering: .acquiring)
            guard self.generation(of: count) == generation, index < count & 0xffff_ffff else { return }
            let (claimed, seen) = ticket.compareExchange(expected: current, desired: current + 1,
                                                         ordering: .acquiringAndReleasing)
            guard claimed else {
                current = seen
                continue
            }
            body?(index)
            completed.add(1, ordering: .releasing)
            current = ticket.load(ordering: .acquiring)
        }
    }
}
