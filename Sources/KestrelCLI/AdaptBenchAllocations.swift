import KestrelTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts Swift heap allocations (every class instance, array or string buffer, box and closure
/// context goes through `swift_allocObject`) while a closure runs, through the Swift runtime's
/// allocation hook (`_swift_allocObject`, enabled by the runtime's swizzling switch).
///
/// What it does not see: `malloc` from C code and `UnsafeMutablePointer.allocate`. The adapter
/// kernels are C functions that never allocate, so on the step path the Swift glue is what could;
/// the package-benchmark target `AdaptationBenchmarks` counts every `malloc` (mallocCountTotal).
///
/// Only the calling thread's allocations are counted. Calls are serialized by a lock (the hook is
/// process-wide); the hook reads the counting thread and the original entry, which are written
/// before it is installed and restored after it is removed.
enum SwiftAllocationCounter {
    typealias AllocFn = @convention(c) (UnsafeRawPointer?, Int, Int) -> UnsafeMutableRawPointer?
    nonisolated(unsafe) private static var original: AllocFn?
    nonisolated(unsafe) private static var allocations = 0
    nonisolated(unsafe) private static var thread = pthread_self()
    private static let lock = PlainLock()

    /// Runs `body` and returns its result with the Swift heap allocations it made, or nil when this
    /// runtime does not export the hook (the count is then unknown, never guessed).
    static func counting<R>(_ body: () throws -> R) rethrows -> (R, Int?) {
        lock.lock()
        defer { lock.unlock() }
        #if os(Linux)
        guard let hookSymbol = dlsym(nil, "_swift_allocObject"),
              let switchSymbol = dlsym(nil, "_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly")
        else { return (try body(), nil) }
        let hook = hookSymbol.assumingMemoryBound(to: AllocFn?.self)
        let enabled = switchSymbol.assumingMemoryBound(to: UInt8.self)
        original = hook.pointee
        allocations = 0
        thread = pthread_self()
        let previous = enabled.pointee
        hook.pointee = { metadata, size, alignMask in
            if pthread_equal(pthread_self(), SwiftAllocationCounter.thread) != 0 { SwiftAllocationCounter.allocations += 1 }
            return SwiftAllocationCounter.original!(metadata, size, alignMask)
        }
        enabled.pointee = 1
        defer {
            enabled.pointee = previous
            hook.pointee = original
        }
        let result = try body()
        return (result, allocations)
        #else
        return (try body(), nil)
        #endif
    }
}
