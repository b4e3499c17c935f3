import Foundation

// `Array.withUnsafeBytes` and friends rethrow untyped errors; these forward a `KestrelError` with
// its type intact, for every module's typed-throws code (one copy for the package).

/// Runs `body` on the contiguous storage of `array` with a typed throw.
@inline(__always)
package func withBuffer<T, R>(_ array: [T], _ body: (UnsafeBufferPointer<T>) throws(KestrelError) -> R) throws(KestrelError) -> R {
    let r: Result<R, KestrelError> = array.withUnsafeBufferPointer { b in
        do throws(KestrelError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try r.get()
}

/// Runs `body` on the bytes of `array` with a typed throw.
@inline(__always)
package func withBytes<T, R>(_ array: [T], _ body: (UnsafeRawBufferPointer) throws(KestrelError) -> R) throws(KestrelError) -> R {
    let r: Result<R, KestrelError> = array.withUnsafeBytes { b in
        do throws(KestrelError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try r.get()
}

/// Runs `body` on the bytes of `data` with a typed throw.
@inline(__always)
package func withBytes<R>(_ data: Data, _ body: (UnsafeRawBufferPointer) throws(KestrelError) -> R) throws(KestrelError) -> R {
    let r: Result<R, KestrelError> = data.withUnsafeBytes { b in
        do throws(KestrelError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try r.get()
}
