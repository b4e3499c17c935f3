import Foundation
import Kestrel
import MCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kernel_info`'s answers for `roofline=skip` and `roofline=cached`, built once and reused: the
/// CPU, caches and tiers cannot change while the process lives, and the cached roofs only when
/// the roofline cache file changes (its device, inode, size and modification time are compared
/// on every call: a `stat`, where rebuilding costs a file read, a JSON decode and an encode).
/// Each output is checked against the tool's output schema once, when it is built.
/// Thread-safe.
final class KernelInfoMemo: @unchecked Sendable {  // `skip` and `cache` guarded by `lock`
    /// The roofline cache file (the default path, resolved once).
    let rooflineFile: URL
    private let outputSchema: Value
    private let lock = PlainLock()
    private var skip: ToolOutput?
    private var cache: (stamp: FileStamp?, output: ToolOutput)?

    init(outputSchema: Value, rooflineFile: URL = RooflineProbe.defaultCacheFile) {
        self.outputSchema = outputSchema
        self.rooflineFile = rooflineFile
    }

    /// The answer without roofs.
    func skipped() -> ToolOutput {
        if let hit = lock.withLock({ skip }) { return hit }
        let output = checked(MCPTools.kernelInfoOutput(
            roofline: .object(["available": false, "source": "skipped", "reason": "roofline=skip"])))
        lock.withLock { skip = output }
        return output
    }

    /// The answer with the roofs of the cache file as it is now.
    func cached() -> ToolOutput {
        let stamp = FileStamp(path: rooflineFile.path)
        if let hit = lock.withLock({ cache }), hit.stamp == stamp { return hit.output }
        // Stamped before reading: a file changed in between is read again next time.
        let output = checked(MCPTools.kernelInfoOutput(
            roofline: MCPTools.rooflineValue(MCPTools.cachedRoofline(file: rooflineFile), source: "cached")))
        lock.withLock { cache = (stamp, output) }
        return output
    }

    /// Marks `output` as checked when it conforms (when it does not, the toolbox's own check
    /// reports it on every call).
    private func checked(_ output: ToolOutput) -> ToolOutput {
        var o = output
        o.schemaChecked = JSONSchemaCheck.violation(of: o.structured, against: outputSchema, at: "structuredContent") == nil
        return o
    }
}

/// What identifies one version of a file without reading it. nil when the file cannot be
/// stat'ed (missing): two missing files compare equal.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int(st.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(st.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int(st.st_mtim.tv_sec)
        modifiedNanoseconds = Int(st.st_mtim.tv_nsec)
        #endif
    }
}
