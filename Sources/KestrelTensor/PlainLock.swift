#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// A plain mutex (pthread_mutex) for short critical sections: the package's one lock type for
/// them (key maps, id allocation, entry points, the BLAS region count).
///
/// A pthread mutex rather than `Synchronization.Mutex`: ThreadSanitizer sees pthread calls, so
/// the stress tests run under it in CI judge the code and not the lock (on Linux, `Mutex` waits
/// on a futex through atomics that the sanitizer does not see, and it reported races between
/// two holders of the same `Mutex`).
package final class PlainLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always) package func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) package func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always) package func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
