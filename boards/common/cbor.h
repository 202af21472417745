/* The CBOR subset of PROTOCOL.md section 4: definite lengths, integers with arguments of at most
 * 32 bits, shortest form required; byte and text strings; arrays. Everything else is refused. */
#ifndef TMR_CBOR_H
#define TMR_CBOR_H
#include <stdint.h>

#define CBOR_MAJOR_UINT 0u
#define CBOR_MAJOR_NEGATIVE 1u
#define CBOR_MAJOR_BYTES 2u
#define CBOR_MAJOR_TEXT 3u
#define CBOR_MAJOR_ARRAY 4u

typedef struct {
  const uint8_t *at;
  const uint8_t *end;
} cbor_reader_t;

/* Each reader returns 1 and advances, or returns 0 for anything outside the subset or the range. */
int cbor_read_head(cbor_reader_t *r, uint8_t *major, uint32_t *argument);
int cbor_read_uint(cbor_reader_t *r, uint32_t max, uint32_t *value);
int cbor_read_int32(cbor_reader_t *r, int32_t *value);
int cbor_read_array(cbor_reader_t *r, uint8_t *count);
/* A byte string (major 2) or a valid UTF-8 text string (major 3) of at most max_length bytes. */
int cbor_read_string(cbor_reader_t *r, uint8_t major, uint8_t max_length, const uint8_t **bytes, uint8_t *length);
int cbor_at_end(const cbor_reader_t *r);

/* Writers append shortest-form items at out[*length]; the caller sizes `out` for the message. */
void cbor_write_head(uint8_t *out, uint8_t *length, uint8_t major, uint32_t argument);
void cbor_write_int32(uint8_t *out, uint8_t *length, int32_t value);
void cbor_write_string(uint8_t *out, uint8_t *length, uint8_t major, const uint8_t *bytes, uint8_t n);

#endif
