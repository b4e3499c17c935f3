import Foundation

/// Serialises the tests that change the process-wide BLAS thread count (`BLASThreads.setCount`),
/// wherever their suites run: Swift Testing runs the suites of every test target in parallel in
/// one process, and such tests would otherwise read each other's temporary settings.
public enum BLASCountLock {
    private static let lock = NSLock()

    /// Runs `body` while no other test holds the lock.
    public static func exclusive<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
