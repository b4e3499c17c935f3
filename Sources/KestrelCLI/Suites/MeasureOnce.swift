import Kestrel

/// Runs a measurement the first time a case asks and hands the same result (or error) to the
/// others: suites whose cases share one expensive run (spawned servers, an engine in a child
/// process) measure once per `kestrel benchmark` run. Thread-safe.
final class MeasureOnce<Value: Sendable>: @unchecked Sendable {  // `cached` guarded by `lock`
    private let measure: @Sendable () throws -> Value
    private let lock = PlainLock()
    private var cached: Result<Value, any Error>?

    init(_ measure: @escaping @Sendable () throws -> Value) { self.measure = measure }

    func result() throws -> Value {
        try lock.withLock {
            if cached == nil { cached = Result { try measure() } }
            return try cached!.get()
        }
    }
}
