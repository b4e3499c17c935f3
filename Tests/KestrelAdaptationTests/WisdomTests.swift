import Foundation
import KestrelAdaptation
import KestrelTensor
import Testing
import _KestrelTestSupport

@Suite struct WisdomTests {
    static let machine = MachineFingerprint(isa: ["scalar", "avx2"], coreCount: 2, libraryVersion: "0.1.0")
    static let context = TuningContext(operation: "hnsw.search", shapes: [[1000, 16]], dtypes: ["f32"], isa: ["scalar", "avx2"],
                                       coreCount: 2, libraryVersion: "0.1.0")

    private func tunedWisdom() throws -> (Autotuner, Wisdom, TuningResult) {
        let space = try AutotunerTests.space()
        let tuner = Autotuner(space: space)
        let fake = FakeCost(AutotunerTests.bowl)
        let r = try tuner.tune(strategy: .patient(budget: 200)) { c throws(KestrelError) in fake.sample(c) }
        var w = Wisdom(machine: Self.machine)
        try w.record(r, for: Self.context)
        return (tuner, w, r)
    }

    @Test func savedWisdomIsReusedWithoutMeasuring() throws {
        let dir = TempDir(prefix: "wisdom")
        let url = dir.file("kestrel.wisdom")
        let (tuner, w, r) = try tunedWisdom()
        #expect(r.replacedDefault)
        try w.save(to: url)
        // A fresh tuner (as in a new process) reads the choice back; nothing is measured.
        let fresh = Autotuner(space: tuner.space)
        let got = fresh.settings(for: Self.context, wisdomAt: url)
        #expect(got == WisdomLookup(configuration: r.chosen, fromWisdom: true, error: nil))
        let loaded = try Wisdom.load(from: url, expecting: Self.machine)
        #expect(loaded == w)
        #expect(loaded.entries[Self.context.key]?.strategy == "patient")
        #expect(loaded.entries[Self.context.key]?.speedup == r.speedup?.estimate)
        // Another operation: no entry, defaults, no error.
        var other = Self.context
        other.operation = "flat.search"
        #expect(fresh.settings(for: other, wisdomAt: url) == WisdomLookup(configuration: tuner.space.defaultConfiguration,
                                                                          fromWisdom: false, error: nil))
    }

    @Test func headerLayoutAndChecksum() throws {
        let (_, w, _) = try tunedWisdom()
        let b = try w.encoded()
        #expect(Array(b[0..<8]) == Array("KSTWISDM".utf8))
        #expect(b[8] == 1 && b[9] == 0 && b[10] == 0 && b[11] == 0)
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[12 + $1]) << (8 * $1) }
        #expect(length == UInt64(b.count - 24))
        let crc = (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[20 + $1]) << (8 * $1) }
        #expect(crc == CRC32C.checksum(Array(b[24...])))
        #expect(try Wisdom.decode(b, expecting: Self.machine) == w)
    }

    @Test func staleWisdomIsIgnoredWithATypedError() throws {
        let dir = TempDir(prefix: "wisdom")
        let url = dir.file("w")
        let (tuner, w, _) = try tunedWisdom()
        try w.save(to: url)
        for other in [MachineFingerprint(isa: ["scalar", "avx2", "avx512"], coreCount: 2, libraryVersion: "0.1.0"),
                      MachineFingerprint(isa: ["scalar", "avx2"], coreCount: 8, libraryVersion: "0.1.0"),
                      MachineFingerprint(isa: ["scalar", "avx2"], coreCount: 2, libraryVersion: "0.2.0")] {
            let ctx = TuningContext(operation: Self.context.operation, shapes: Self.context.shapes, dtypes: Self.context.dtypes,
                                    isa: other.isa, coreCount: other.coreCount, libraryVersion: other.libraryVersion)
            let got = tuner.settings(for: ctx, wisdomAt: url)
            #expect(got.configuration == tuner.space.defaultConfiguration && !got.fromWisdom)
            #expect(got.error == .wrongFileKind(path: url.path, expected: "wisdom for \(other)", found: "wisdom for \(Self.machine)"))
        }
        // Wisdom for one machine refuses an entry tuned on another.
        var w2 = Wisdom(machine: Self.machine)
        var ctx = Self.context
        ctx.coreCount = 64
        #expect(throws: KestrelError.self) {
            try w2.record(WisdomEntry(context: ctx, configuration: TuningConfiguration(["a": 1, "b": 10]), strategy: "measure"))
        }
    }

    @Test func damagedWisdomIsIgnoredWithATypedError() throws {
        let dir = TempDir(prefix: "wisdom")
        let url = dir.file("w")
        let (tuner, w, _) = try tunedWisdom()
        let good = try w.encoded()
        func check(_ bytes: [UInt8], _ expected: KestrelError) throws {
            try Data(bytes).write(to: url)
            let got = tuner.settings(for: Self.context, wisdomAt: url)
            #expect(got.configuration == tuner.space.defaultConfiguration && !got.fromWisdom)
            #expect(got.error == expected)
        }
        var flipped = good
        flipped[good.count - 3] ^= 0x20
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(good[20 + $1]) << (8 * $1) }
        try check(flipped, .corruptFile(path: url.path, section: "payload",
                                        reason: "checksum mismatch: stored \(stored), computed \(CRC32C.checksum(Array(flipped[24...])))"))
        try check(Array(good.prefix(good.count - 1)), .corruptFile(path: url.path, section: "payload",
                                                                  reason: "length \(good.count - 24) but \(good.count - 25) bytes follow the header"))
        try check(Array(good.prefix(10)), .corruptFile(path: url.path, section: "header", reason: "truncated: 10 of 24 bytes"))
        try check([], .corruptFile(path: url.path, section: "header", reason: "truncated: 0 of 24 bytes"))
        var magic = good
        magic[0] = UInt8(ascii: "X")
        try check(magic, .wrongFileKind(path: url.path, expected: "Kestrel wisdom file", found: "unknown data"))
        var version = good
        version[8] = 2
        try check(version, .unsupportedVersion(found: 2, supported: 1...1))
        // A valid checksum over bytes that are not the JSON payload.
        var junk = Array(good.prefix(24))
        let body = Array("{not json".utf8)
        for i in 0..<8 { junk[12 + i] = UInt8(truncatingIfNeeded: UInt64(body.count) >> (8 * i)) }
        let crc = CRC32C.checksum(body)
        for i in 0..<4 { junk[20 + i] = UInt8(truncatingIfNeeded: crc >> (8 * i)) }
        try check(junk + body, .corruptFile(path: url.path, section: "payload", reason: "malformed JSON"))
        // Missing file.
        let missing = tuner.settings(for: Self.context, wisdomAt: dir.file("absent"))
        #expect(missing.error == .io(path: dir.file("absent").path, operation: "open", errno: ENOENT))
        #expect(!missing.fromWisdom)
        // An entry outside the current space (the space changed since tuning).
        var odd = Wisdom(machine: Self.machine)
        try odd.record(WisdomEntry(context: Self.context, configuration: TuningConfiguration(["a": 99, "b": 10]), strategy: "measure"))
        try odd.save(to: url)
        let r = tuner.settings(for: Self.context, wisdomAt: url)
        #expect(!r.fromWisdom && r.configuration == tuner.space.defaultConfiguration)
        #expect(r.error == .invalidArgument(name: "wisdom", reason: "entry a=99 b=10 is not a configuration of this space"))
        // Saving over a directory fails with io and leaves it alone.
        #expect(throws: KestrelError.io(path: dir.url.path, operation: "open", errno: EISDIR)) { try w.save(to: dir.url) }
    }
}
