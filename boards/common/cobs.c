#include "cobs.h"

uint8_t cobs_encode(const uint8_t *in, uint8_t length, uint8_t *out) {
  uint8_t code_at = 0;
  uint8_t o = 1;
  uint8_t code = 1;
  for (uint8_t i = 0; i < length; i++) {
    if (in[i] == 0) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
      continue;
    }
    out[o++] = in[i];
    if (++code == 0xff) {
      out[code_at] = code;
      code = 1;
      if (i == length - 1) return o;
      code_at = o++;
    }
  }
  out[code_at] = code;
  return o;
}

int16_t cobs_decode_in_place(uint8_t *body, uint8_t length) {
  if (length == 0) return -1;
  uint8_t in = 0;
  uint8_t out = 0;
  while (in < length) {
    const uint8_t code = body[in];
    /* the group is the code byte and code - 1 data bytes: it may end exactly at the end */
    if (code == 0 || (uint16_t)in + code > length) return -1;
    in++;
    for (uint8_t k = 1; k < code; k++) {
      const uint8_t b = body[in++];
      if (b == 0) return -1;
      body[out++] = b;
    }
    if (code < 0xff && in < length) body[out++] = 0;
  }
  return out;
}
