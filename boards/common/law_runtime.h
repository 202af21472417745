/* law_runtime.h: what the SDK derives from the one linked law (`tmr_law`, tmr_law.h), the same
 * on every board and in the host harness. The TypeScript twin is src/law/; both follow
 * PROTOCOL.md, and the state digest and self-test hash agree bit for bit.
 *
 * Holds the law's state in static storage (no allocation), checks the declaration, derives the
 * state digest and the self-test hash, and checks values against the declared ranges. Every loop
 * is bounded by the declaration's limits. C99; nothing here reads a clock or does I/O. */
#ifndef TMR_LAW_RUNTIME_H
#define TMR_LAW_RUNTIME_H
#include <stdint.h>

#include "tmr_law.h"

/* Bytes of static storage for the law's state struct. A board short of RAM may build with
 * -DTMR_LAW_STATE_STORAGE_BYTES=N (N <= TMR_LAW_STATE_STRUCT_BYTES_MAX); a law whose
 * state_struct_bytes exceeds it is then refused by tmr_law_check_declaration(). */
#ifndef TMR_LAW_STATE_STORAGE_BYTES
#define TMR_LAW_STATE_STORAGE_BYTES TMR_LAW_STATE_STRUCT_BYTES_MAX
#endif

/* The self-test (PROTOCOL.md): 4 segments of 64 steps, inputs and parameters drawn from
 * Prng(TMR_LAW_SELF_TEST_SEED). */
#define TMR_LAW_SELF_TEST_SEED 0x7a3f0002u
#define TMR_LAW_SELF_TEST_SEGMENTS 4u
#define TMR_LAW_SELF_TEST_STEPS_PER_SEGMENT 64u

/* Named results; 0 is success, every other value a reason (tmr_law_error_name() in the harness
 * spells them). The declaration errors come from tmr_law_check_declaration(). */
enum {
  TMR_LAW_OK = 0,
  TMR_LAW_ERROR_MISSING = 1,            /* a NULL function, table or law name */
  TMR_LAW_ERROR_NAME = 2,               /* law name not 1..24 characters of [a-z0-9-] */
  TMR_LAW_ERROR_INPUT_COUNT = 3,        /* not 1..TMR_LAW_CHANNELS_MAX */
  TMR_LAW_ERROR_OUTPUT_COUNT = 4,       /* not 1..TMR_LAW_CHANNELS_MAX */
  TMR_LAW_ERROR_PARAM_COUNT = 5,        /* more than TMR_LAW_PARAMS_MAX */
  TMR_LAW_ERROR_STATE_SIZE = 6,         /* state_size_bytes not 1..TMR_LAW_STATE_BYTES_MAX */
  TMR_LAW_ERROR_STATE_STRUCT_SIZE = 7,  /* state_struct_bytes not 1..TMR_LAW_STATE_STORAGE_BYTES */
  TMR_LAW_ERROR_INPUT_NAME = 8,         /* an input's name NULL or empty, or its unit NULL */
  TMR_LAW_ERROR_INPUT_RANGE = 9,        /* an input with min > max */
  TMR_LAW_ERROR_OUTPUT_NAME = 10,       /* an output's name NULL or empty, or its unit NULL */
  TMR_LAW_ERROR_OUTPUT_RANGE = 11,      /* an output with min > max */
  TMR_LAW_ERROR_OUTPUT_SAFE = 12,       /* an output's safe value outside [min, max] */
  TMR_LAW_ERROR_OUTPUT_VOTE = 13,       /* an output's vote neither EXACT nor MID_VALUE */
  TMR_LAW_ERROR_OUTPUT_TOLERANCE = 14,  /* tolerance < 0, or nonzero for an EXACT output */
  TMR_LAW_ERROR_PARAM_NAME = 15,        /* a parameter's name NULL or empty */
  TMR_LAW_ERROR_PARAM_RANGE = 16,       /* a parameter with min > max */
  TMR_LAW_ERROR_PARAM_DEFAULT = 17,     /* a parameter's default outside [min, max] */
  TMR_LAW_ERROR_PARAM_VALUE = 18,       /* tmr_law_state_init(): a value outside its range */
  TMR_LAW_ERROR_SELF_TEST_OUTPUT = 19   /* the self-test saw an output outside its range */
};
#define TMR_LAW_ERROR_COUNT 20

/* Where a check failed: the channel or parameter index for the INPUT_, OUTPUT_ and PARAM_ errors
 * (0 for the law-wide ones); for PARAM_VALUE also the value; for SELF_TEST_OUTPUT also the
 * segment, the step within it and the value. */
typedef struct {
  uint8_t index;
  uint8_t segment;
  uint8_t step;
  int32_t value;
} tmr_law_failure_t;

/* 0 if `tmr_law` is well-formed (counts within the limits, min <= max, min <= safe <= max,
 * min <= default <= max, vote kind valid, tolerance >= 0 and 0 for EXACT, names and functions
 * present); otherwise the first problem's code, and its index in *failure if failure != NULL. */
int tmr_law_check_declaration(tmr_law_failure_t *failure);

/* The static, aligned storage the running law's state lives in. */
void *tmr_law_state(void);

/* Zeroes the storage and calls tmr_law.init() with `params` (param_count values). Returns 0, the
 * declaration's error, or TMR_LAW_ERROR_PARAM_VALUE (storage untouched) for a value outside its
 * declared range. */
int tmr_law_state_init(const int32_t *params, tmr_law_failure_t *failure);

/* CRC-32 (zlib) of the state_size_bytes bytes tmr_law.serialize() writes for `state`. */
uint32_t tmr_law_digest(const void *state);

/* Index of the first value outside its declared [min, max], or -1 if all are within. */
int tmr_law_first_input_out_of_range(const int32_t *inputs);
int tmr_law_first_output_out_of_range(const int32_t *outputs);
int tmr_law_first_param_out_of_range(const int32_t *params);

/* The law's self-test hash (PROTOCOL.md), into *hash_out. Returns 0, the declaration's error,
 * or TMR_LAW_ERROR_SELF_TEST_OUTPUT when an output left its declared range (where: *failure,
 * if not NULL); *hash_out is written only on success. Uses its own state storage on the stack
 * (TMR_LAW_STATE_STORAGE_BYTES plus about 200 bytes), so the running state is left alone. */
int tmr_law_self_test(uint32_t *hash_out, tmr_law_failure_t *failure);
/* The same without the failure's details. */
int tmr_law_self_test_hash(uint32_t *hash_out);

#endif
