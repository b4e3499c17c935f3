import Foundation

/// The lock of ``withPrefetchPlanExclusive(_:)``.
private let prefetchPlanLock = NSLock()

/// Runs `body` while no other test that uses this function runs: for tests that replace the
/// process-wide prefetch plan (`PrefetchPlan.activate()`) or check which plan is in force. Suites of
/// different test targets share one process, so `.serialized` alone does not keep them apart.
/// Tests that only need results to be the same under any plan do not need it.
public func withPrefetchPlanExclusive<R>(_ body: () throws -> R) rethrows -> R {
    prefetchPlanLock.lock()
    defer { prefetchPlanLock.unlock() }
    return try body()
}
