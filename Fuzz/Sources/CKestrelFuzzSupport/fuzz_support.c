#include "kestrel_fuzz_support.h"

// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes.
static uint32_t table[8][256];
static int table_ready;

__attribute__((no_sanitize("coverage")))
static void build_table(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][b] = c;
    }
    for (int k = 1; k < 8; k++) {
        for (int b = 0; b < 256; b++) table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xFF];
    }
    table_ready = 1;
}

__attribute__((no_sanitize("coverage")))
uint32_t kestrel_fuzz_crc32c(const void *p, size_t n) {
    if (!table_ready) build_table();
    const uint8_t *s = p;
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        // Little-endian byte order spelled out, so the result does not depend on the host.
        uint32_t lo = c ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
        c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24]
            ^ table[3][s[4]] ^ table[2][s[5]] ^ table[1][s[6]] ^ table[0][s[7]];
        s += 8;
        n -= 8;
    }
    while (n--) c = table[0][(c ^ *s++) & 0xFF] ^ (c >> 8);
    return ~c;
}
