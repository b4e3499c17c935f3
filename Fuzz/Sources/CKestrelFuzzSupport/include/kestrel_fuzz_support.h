#ifndef KESTREL_FUZZ_SUPPORT_H
#define KESTREL_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's built-in mutator (defined by libFuzzer, linked with -sanitize=fuzzer): mutates
/// `size` bytes at `data` in place into at most `max_size` bytes and returns the new size.
/// Called from the harness's LLVMFuzzerCustomMutator before it re-seals the checksums.
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF) of
/// `n` bytes at `p` (p may be NULL when n is 0). Slicing-by-8 tables, built on first use (not
/// thread-safe before that; the fuzzer is single-threaded). Written independently of the
/// library's CRC32C so that a mistake there cannot hide behind it; kept out of the coverage
/// instrumentation because it runs in the mutator on every input.
uint32_t kestrel_fuzz_crc32c(const void *p, size_t n);

#endif
