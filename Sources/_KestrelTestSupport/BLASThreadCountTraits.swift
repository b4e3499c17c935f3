import Testing

/// Test traits for tests that touch the process-wide BLAS thread count (OpenBLAS keeps one
/// setting for the whole process, and every test target runs in one process).
///
/// - `.changesBLASThreadCount`: the test (or every test of the suite) may change the count
///   transiently — `BLASThreads.setCount`, a `parallelFor` region, or library code that pins BLAS
///   to one thread around its own parallel work (FlatIndex batch search on its GEMM path). Such
///   tests still run in parallel with each other and with unmarked tests.
/// - `.readsBLASThreadCount`: the test asserts the exact count. It runs alone with respect to every
///   `.changesBLASThreadCount` test (a readers–writer lock, taken exclusively here and shared there).
///
/// Tests whose results merely *depend* on the count (two BLAS calls expected to agree) should not
/// take the lock: they compare with a tolerance that covers any summation order instead.
///
/// Thread-safety: the lock is an actor; waiting suspends the task, it never blocks a thread.
public struct BLASThreadCountTrait: TestTrait, SuiteTrait, TestScoping {
    /// Whether the marked test asserts the exact count (exclusive) or only changes it (shared).
    let exclusive: Bool

    /// Applied to a suite, the scope wraps the whole suite once (its tests do not inherit it).
    public var isRecursive: Bool { false }

    /// One scope around a suite or a test function (all of its cases).
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? self : nil
    }

    /// Runs `function` holding the lock in this trait's mode.
    /// - Throws: whatever `function` throws.
    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        await BLASThreadCountLock.shared.acquire(exclusive: exclusive)
        do {
            try await function()
        } catch {
            await BLASThreadCountLock.shared.release(exclusive: exclusive)
            throw error
        }
        await BLASThreadCountLock.shared.release(exclusive: exclusive)
    }
}

extension Trait where Self == BLASThreadCountTrait {
    /// The test may change the process-wide BLAS thread count while it runs (shared lock).
    public static var changesBLASThreadCount: Self { BLASThreadCountTrait(exclusive: false) }
    /// The test asserts the exact BLAS thread count (exclusive lock).
    public static var readsBLASThreadCount: Self { BLASThreadCountTrait(exclusive: true) }
}

/// A readers–writer lock for async code. Shared holders never wait behind a queued exclusive
/// waiter, so a shared test nested in a shared suite cannot deadlock; an exclusive waiter runs
/// once the shared holders of the moment have finished.
actor BLASThreadCountLock {
    static let shared = BLASThreadCountLock()

    private var sharedHolders = 0
    private var exclusiveHeld = false
    private var waiters: [(exclusive: Bool, resume: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive: Bool) async {
        if canEnter(exclusive: exclusive) {
            enter(exclusive: exclusive)
            return
        }
        await withCheckedContinuation { waiters.append((exclusive, $0)) }
    }

    func release(exclusive: Bool) {
        if exclusive { exclusiveHeld = false } else { sharedHolders -= 1 }
        var still: [(exclusive: Bool, resume: CheckedContinuation<Void, Never>)] = []
        for waiter in waiters {
            if canEnter(exclusive: waiter.exclusive) {
                enter(exclusive: waiter.exclusive)
                waiter.resume.resume()
            } else {
                still.append(waiter)
            }
        }
        waiters = still
    }

    private func canEnter(exclusive: Bool) -> Bool {
        exclusive ? (!exclusiveHeld && sharedHolders == 0) : !exclusiveHeld
    }

    private func enter(exclusive: Bool) {
        if exclusive { exclusiveHeld = true } else { sharedHolders += 1 }
    }
}
