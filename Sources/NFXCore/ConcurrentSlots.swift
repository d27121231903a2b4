import Dispatch

/// One result slot per task, for work shared out over concurrent threads: each task writes only its own slot, so
/// no lock is needed. The slots are a raw buffer rather than a Swift array property, so that threads writing at
/// the same time never access one Swift variable at once.
public final class ConcurrentSlots<Value>: @unchecked Sendable {
    public let count: Int
    private let storage: UnsafeMutablePointer<Value?>

    public init(count: Int) {
        self.count = count
        storage = .allocate(capacity: max(1, count))
        storage.initialize(repeating: nil, count: count)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    /// Sets slot `index`; call it from the one task that owns the slot.
    public func set(_ index: Int, _ value: Value) {
        precondition(index >= 0 && index < count, "ConcurrentSlots: slot \(index) of \(count)")
        storage[index] = value
    }

    /// Every slot in order (nil where nothing was set); read after the concurrent work has finished.
    public var values: [Value?] { Array(UnsafeBufferPointer(start: storage, count: count)) }
}

/// Runs `body` for every index in 0..<count on up to `threads` threads (index i on thread i mod threads, so the
/// split does not depend on timing) and returns the results in index order.
public func concurrentMap<Value>(_ count: Int, threads: Int, _ body: @escaping @Sendable (Int) -> Value) -> [Value] {
    let slots = ConcurrentSlots<Value>(count: count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        for index in stride(from: worker, to: count, by: workers) { slots.set(index, body(index)) }
    }
    return slots.values.map { $0! }
}
