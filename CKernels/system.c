/* Process-level helpers that are not kernels but need the C library directly. */
#include "kestrel_kernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int kestrel_release_free_memory(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}
