#include "cbor.h"

int cbor_read_head(cbor_reader_t *r, uint8_t *major, uint32_t *argument) {
  if (r->at >= r->end) return 0;
  const uint8_t initial = *r->at++;
  const uint8_t info = initial & 0x1fu;
  *major = (uint8_t)(initial >> 5);
  if (info < 24u) {
    *argument = info;
    return 1;
  }
  uint8_t size;
  uint32_t smallest;
  if (info == 24u) {
    size = 1;
    smallest = 24u;
  } else if (info == 25u) {
    size = 2;
    smallest = 0x100u;
  } else if (info == 26u) {
    size = 4;
    smallest = 0x10000u;
  } else {
    return 0; /* 8-byte arguments, reserved 28..30, indefinite lengths */
  }
  if (r->end - r->at < size) return 0;
  uint32_t value = 0;
  for (uint8_t i = 0; i < size; i++) value = (value << 8) | *r->at++;
  if (value < smallest) return 0; /* not the shortest form */
  *argument = value;
  return 1;
}

int cbor_read_uint(cbor_reader_t *r, uint32_t max, uint32_t *value) {
  uint8_t major;
  return cbor_read_head(r, &major, value) && major == CBOR_MAJOR_UINT && *value <= max;
}

int cbor_read_int32(cbor_reader_t *r, int32_t *value) {
  uint8_t major;
  uint32_t argument;
  if (!cbor_read_head(r, &major, &argument) || argument > 0x7fffffffu) return 0;
  if (major == CBOR_MAJOR_UINT) *value = (int32_t)argument;
  else if (major == CBOR_MAJOR_NEGATIVE) *value = -1 - (int32_t)argument;
  else return 0;
  return 1;
}

int cbor_read_array(cbor_reader_t *r, uint8_t *count) {
  uint8_t major;
  uint32_t argument;
  if (!cbor_read_head(r, &major, &argument) || major != CBOR_MAJOR_ARRAY || argument > 0xffu) return 0;
  *count = (uint8_t)argument;
  return 1;
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, uint8_t n) {
  uint8_t i = 0;
  while (i < n) {
    const uint8_t b = s[i];
    uint8_t extra;
    uint8_t low = 0x80u;
    uint8_t high = 0xbfu;
    if (b < 0x80u) extra = 0;
    else if (b >= 0xc2u && b <= 0xdfu) extra = 1;
    else if (b >= 0xe0u && b <= 0xefu) {
      extra = 2;
      if (b == 0xe0u) low = 0xa0u;
      if (b == 0xedu) high = 0x9fu;
    } else if (b >= 0xf0u && b <= 0xf4u) {
      extra = 3;
      if (b == 0xf0u) low = 0x90u;
      if (b == 0xf4u) high = 0x8fu;
    } else {
      return 0;
    }
    if ((uint8_t)(n - i - 1u) < extra) return 0;
    for (uint8_t k = 1; k <= extra; k++) {
      const uint8_t c = s[i + k];
      if (c < (k == 1 ? low : 0x80u) || c > (k == 1 ? high : 0xbfu)) return 0;
    }
    i = (uint8_t)(i + 1u + extra);
  }
  return 1;
}

int cbor_read_string(cbor_reader_t *r, uint8_t major, uint8_t max_length, const uint8_t **bytes, uint8_t *length) {
  uint8_t got;
  uint32_t argument;
  if (!cbor_read_head(r, &got, &argument) || got != major || argument > max_length) return 0;
  if (r->end - r->at < (int32_t)argument) return 0;
  *bytes = r->at;
  *length = (uint8_t)argument;
  r->at += argument;
  return major != CBOR_MAJOR_TEXT || utf8_valid(*bytes, *length);
}

int cbor_at_end(const cbor_reader_t *r) { return r->at == r->end; }

void cbor_write_head(uint8_t *out, uint8_t *length, uint8_t major, uint32_t argument) {
  uint8_t n = *length;
  const uint8_t top = (uint8_t)(major << 5);
  if (argument < 24u) {
    out[n++] = (uint8_t)(top | argument);
  } else if (argument < 0x100u) {
    out[n++] = (uint8_t)(top | 24u);
    out[n++] = (uint8_t)argument;
  } else if (argument < 0x10000u) {
    out[n++] = (uint8_t)(top | 25u);
    out[n++] = (uint8_t)(argument >> 8);
    out[n++] = (uint8_t)argument;
  } else {
    out[n++] = (uint8_t)(top | 26u);
    out[n++] = (uint8_t)(argument >> 24);
    out[n++] = (uint8_t)(argument >> 16);
    out[n++] = (uint8_t)(argument >> 8);
    out[n++] = (uint8_t)argument;
  }
  *length = n;
}

void cbor_write_int32(uint8_t *out, uint8_t *length, int32_t value) {
  if (value >= 0) cbor_write_head(out, length, CBOR_MAJOR_UINT, (uint32_t)value);
  else cbor_write_head(out, length, CBOR_MAJOR_NEGATIVE, (uint32_t)(-1 - value));
}

void cbor_write_string(uint8_t *out, uint8_t *length, uint8_t major, const uint8_t *bytes, uint8_t n) {
  cbor_write_head(out, length, major, n);
  for (uint8_t i = 0; i < n; i++) out[(*length)++] = bytes[i];
}
