/* COBS framing (PROTOCOL.md 3.2). No allocation; lengths are bounded by the caller's buffers. */
#ifndef TMR_COBS_H
#define TMR_COBS_H
#include <stdint.h>

/* Encodes `length` bytes into `out`, which holds at least length + length / 254 + 1 bytes.
 * Returns the encoded length (no delimiter). For length < 254, `out` may be `in - 1` (encoding in
 * place behind a one-byte gap): each byte is written at or before the one being read. */
uint8_t cobs_encode(const uint8_t *in, uint8_t length, uint8_t *out);

/* Decodes a frame body in place (the decoded bytes never outrun the encoded ones). Returns the
 * decoded length, or -1 if the body is empty, holds a 0x00 or a code byte points past its end. */
int16_t cobs_decode_in_place(uint8_t *body, uint8_t length);

#endif
