/* ggml block quantize / dequantize: table registration (the kernels land with issue 16). */
#include "internal/kestrel_tiers.h"

void kestrel_register_quant_blocks(kestrel_kernel_table *t, kestrel_isa isa) {
    (void)t;
    (void)isa;
}
