/*
 * Freestanding stand-in for <string.h> in the wasm32 builds of CKernels/wasm/build.sh: the
 * two functions the kernels call, defined in kestrel_wasm.c (memory.copy / memory.fill) for the
 * calls of unknown size.
 */
#ifndef KESTREL_WASM_STRING_H
#define KESTREL_WASM_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
/* -ffreestanding turns off the builtin meaning of these names: restore it, so that a copy of
 * a known small size (the bit casts of kestrel_internal.h) becomes a load and a store. */
#define memcpy(dst, src, n) __builtin_memcpy(dst, src, n)
#define memset(dst, c, n) __builtin_memset(dst, c, n)

#endif
