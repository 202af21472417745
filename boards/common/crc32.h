/* CRC-32 (IEEE 802.3 / zlib): reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF.
 * crc32_update(0, "123456789", 9) == 0xCBF43926. Byte-wise, with its table in flash. */
#ifndef TMR_CRC32_H
#define TMR_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* CRC-32 of `length` bytes continued from a previous result (0 to start). */
uint32_t crc32_update(uint32_t crc_previous, const uint8_t *bytes, size_t length);

#endif
