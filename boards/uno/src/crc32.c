#include "crc32.h"

#include "flash.h"

/* crc32 of each nibble value: table[n] = the reflected CRC of n shifted through 4 bits. */
static const uint32_t nibble_table[16] FLASH_TABLE = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
    0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu, 0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
};

uint32_t crc32_update(uint32_t crc_previous, const uint8_t *bytes, size_t length) {
  uint32_t c = crc_previous ^ 0xffffffffu;
  for (size_t i = 0; i < length; i++) {
    c ^= bytes[i];
    c = (c >> 4) ^ FLASH_READ_U32(&nibble_table[c & 0x0fu]);
    c = (c >> 4) ^ FLASH_READ_U32(&nibble_table[c & 0x0fu]);
  }
  return c ^ 0xffffffffu;
}
