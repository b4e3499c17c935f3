// The seeded generator every suite uses is the library's own, so inputs match the CLI's.
@_exported import struct KestrelTensor.SplitMix64
