#include "law_runtime.h"

#include <stddef.h>
#include <string.h>

#include "crc32.h"
#include "prng.h"

/* C99 has no _Static_assert: a negative array size stops the build instead. */
typedef char tmr_law_storage_within_limit[(TMR_LAW_STATE_STORAGE_BYTES >= 1 &&
                                           TMR_LAW_STATE_STORAGE_BYTES <= TMR_LAW_STATE_STRUCT_BYTES_MAX) ? 1 : -1];

/* Aligned for any scalar a law's state struct may hold (C99 has no max_align_t). */
typedef union {
  uint8_t bytes[TMR_LAW_STATE_STORAGE_BYTES];
  int64_t align_int64;
  double align_double;
  long double align_long_double;
  void *align_pointer;
  void (*align_function)(void);
} state_storage_t;

static state_storage_t running_state;

static int fail_at(tmr_law_failure_t *failure, int error, unsigned index) {
  if (failure != NULL) failure->index = (uint8_t)index;
  return error;
}

static int name_valid(const char *name) {
  unsigned length = 0;
  while (length <= TMR_LAW_NAME_CHARS_MAX && name[length] != '\0') {
    const char c = name[length];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    length++;
  }
  return length >= 1 && length <= TMR_LAW_NAME_CHARS_MAX;
}

static int check_counts(void) {
  const tmr_law_t *law = &tmr_law;
  if (law->name == NULL || law->init == NULL || law->step == NULL || law->serialize == NULL ||
      law->deserialize == NULL || law->inputs == NULL || law->outputs == NULL ||
      (law->param_count > 0 && law->params == NULL)) {
    return TMR_LAW_ERROR_MISSING;
  }
  if (!name_valid(law->name)) return TMR_LAW_ERROR_NAME;
  if (law->input_count < 1 || law->input_count > TMR_LAW_CHANNELS_MAX) return TMR_LAW_ERROR_INPUT_COUNT;
  if (law->output_count < 1 || law->output_count > TMR_LAW_CHANNELS_MAX) return TMR_LAW_ERROR_OUTPUT_COUNT;
  if (law->param_count > TMR_LAW_PARAMS_MAX) return TMR_LAW_ERROR_PARAM_COUNT;
  if (law->state_size_bytes < 1 || law->state_size_bytes > TMR_LAW_STATE_BYTES_MAX) return TMR_LAW_ERROR_STATE_SIZE;
  if (law->state_struct_bytes < 1 || law->state_struct_bytes > TMR_LAW_STATE_STORAGE_BYTES) {
    return TMR_LAW_ERROR_STATE_STRUCT_SIZE;
  }
  return TMR_LAW_OK;
}

static int check_output(const tmr_output_t *o) {
  if (o->name == NULL || o->name[0] == '\0' || o->unit == NULL) return TMR_LAW_ERROR_OUTPUT_NAME;
  if (o->min > o->max) return TMR_LAW_ERROR_OUTPUT_RANGE;
  if (o->safe < o->min || o->safe > o->max) return TMR_LAW_ERROR_OUTPUT_SAFE;
  if (o->vote != TMR_VOTE_EXACT && o->vote != TMR_VOTE_MID_VALUE) return TMR_LAW_ERROR_OUTPUT_VOTE;
  if (o->tolerance < 0 || (o->vote == TMR_VOTE_EXACT && o->tolerance != 0)) return TMR_LAW_ERROR_OUTPUT_TOLERANCE;
  return TMR_LAW_OK;
}

int tmr_law_check_declaration(tmr_law_failure_t *failure) {
  const tmr_law_t *law = &tmr_law;
  int error = check_counts();
  if (error != TMR_LAW_OK) return fail_at(failure, error, 0);
  for (unsigned i = 0; i < law->input_count; i++) {
    const tmr_input_t *in = &law->inputs[i];
    if (in->name == NULL || in->name[0] == '\0' || in->unit == NULL) return fail_at(failure, TMR_LAW_ERROR_INPUT_NAME, i);
    if (in->min > in->max) return fail_at(failure, TMR_LAW_ERROR_INPUT_RANGE, i);
  }
  for (unsigned i = 0; i < law->output_count; i++) {
    error = check_output(&law->outputs[i]);
    if (error != TMR_LAW_OK) return fail_at(failure, error, i);
  }
  for (unsigned i = 0; i < law->param_count; i++) {
    const tmr_param_t *p = &law->params[i];
    if (p->name == NULL || p->name[0] == '\0') return fail_at(failure, TMR_LAW_ERROR_PARAM_NAME, i);
    if (p->min > p->max) return fail_at(failure, TMR_LAW_ERROR_PARAM_RANGE, i);
    if (p->default_value < p->min || p->default_value > p->max) return fail_at(failure, TMR_LAW_ERROR_PARAM_DEFAULT, i);
  }
  return TMR_LAW_OK;
}

void *tmr_law_state(void) { return running_state.bytes; }

int tmr_law_state_init(const int32_t *params, tmr_law_failure_t *failure) {
  const int error = tmr_law_check_declaration(failure);
  if (error != TMR_LAW_OK) return error;
  const int bad = tmr_law_first_param_out_of_range(params);
  if (bad >= 0) {
    if (failure != NULL) failure->value = params[bad];
    return fail_at(failure, TMR_LAW_ERROR_PARAM_VALUE, (unsigned)bad);
  }
  memset(running_state.bytes, 0, sizeof running_state.bytes);
  tmr_law.init(running_state.bytes, params);
  return TMR_LAW_OK;
}

uint32_t tmr_law_digest(const void *state) {
  uint8_t bytes[TMR_LAW_STATE_BYTES_MAX];
  const size_t size = tmr_law.state_size_bytes <= TMR_LAW_STATE_BYTES_MAX ? tmr_law.state_size_bytes : 0;
  tmr_law.serialize(state, bytes);
  return crc32_update(0, bytes, size);
}

int tmr_law_first_input_out_of_range(const int32_t *inputs) {
  for (unsigned i = 0; i < tmr_law.input_count && i < TMR_LAW_CHANNELS_MAX; i++) {
    if (inputs[i] < tmr_law.inputs[i].min || inputs[i] > tmr_law.inputs[i].max) return (int)i;
  }
  return -1;
}

int tmr_law_first_output_out_of_range(const int32_t *outputs) {
  for (unsigned i = 0; i < tmr_law.output_count && i < TMR_LAW_CHANNELS_MAX; i++) {
    if (outputs[i] < tmr_law.outputs[i].min || outputs[i] > tmr_law.outputs[i].max) return (int)i;
  }
  return -1;
}

int tmr_law_first_param_out_of_range(const int32_t *params) {
  for (unsigned i = 0; i < tmr_law.param_count && i < TMR_LAW_PARAMS_MAX; i++) {
    if (params[i] < tmr_law.params[i].min || params[i] > tmr_law.params[i].max) return (int)i;
  }
  return -1;
}

/* hi - lo for lo <= hi, exact in uint32 (at most 2^32 - 1). The self-test keeps to 32-bit
 * division and shifts: 64-bit division is a long library call on an 8-bit core. */
static uint32_t span_u32(int32_t lo, int32_t hi) { return (uint32_t)hi - (uint32_t)lo; }

/* The self-test's draw(lo, hi) = lo + (nextU32 mod (hi - lo + 1)); a span of 2^32 leaves the
 * draw as it is. Returned as the offset from lo. */
static uint32_t draw_offset(prng_t *prng, uint32_t hi_minus_lo) {
  const uint32_t next = prng_next_u32(prng);
  return hi_minus_lo == 0xffffffffu ? next : next % (hi_minus_lo + 1u);
}

static int32_t draw(prng_t *prng, int32_t lo, int32_t hi) {
  return (int32_t)((int64_t)lo + draw_offset(prng, span_u32(lo, hi)));
}

static int32_t draw_param(prng_t *prng, const tmr_param_t *p) {
  switch (prng_next_u32(prng) % 4u) {
    case 0: return p->min;
    case 1: return p->max;
    case 2: return p->default_value;
    default: return draw(prng, p->min, p->max);
  }
}

/* One input for the self-test: an end of the range, a uniform draw, or (half the time) a step of
 * at most w = floor((max - min) / 64) from the previous value, draw(-w, w), clamped. */
static int32_t draw_input(prng_t *prng, const tmr_input_t *in, int32_t previous) {
  const uint32_t mode = prng_next_u32(prng) % 8u;
  if (mode == 0) return in->min;
  if (mode == 1) return in->max;
  if (mode <= 3) return draw(prng, in->min, in->max);
  const uint32_t width = span_u32(in->min, in->max) >> 6;
  int64_t value = (int64_t)previous - width + draw_offset(prng, 2u * width);
  if (value < in->min) value = in->min;
  if (value > in->max) value = in->max;
  return (int32_t)value;
}

/* in.min + floor((in.max - in.min) / 2): where an input's walk starts in each segment. */
static int32_t walk_start(const tmr_input_t *in) {
  return (int32_t)((int64_t)in->min + (span_u32(in->min, in->max) >> 1));
}

static uint32_t crc32_update_u32_le(uint32_t crc, uint32_t word) {
  const uint8_t bytes[4] = {(uint8_t)word, (uint8_t)(word >> 8), (uint8_t)(word >> 16), (uint8_t)(word >> 24)};
  return crc32_update(crc, bytes, sizeof bytes);
}

/* One segment of 64 steps from init(params); the running hash continues through it. */
static int self_test_segment(prng_t *prng, void *state, const int32_t *params, unsigned segment, uint32_t *hash,
                             tmr_law_failure_t *failure) {
  int32_t previous[TMR_LAW_CHANNELS_MAX], inputs[TMR_LAW_CHANNELS_MAX], outputs[TMR_LAW_CHANNELS_MAX];
  memset(state, 0, TMR_LAW_STATE_STORAGE_BYTES);
  tmr_law.init(state, params);
  for (unsigned c = 0; c < tmr_law.input_count; c++) {
    previous[c] = walk_start(&tmr_law.inputs[c]);
  }
  for (unsigned step = 0; step < TMR_LAW_SELF_TEST_STEPS_PER_SEGMENT; step++) {
    for (unsigned c = 0; c < tmr_law.input_count; c++) {
      inputs[c] = draw_input(prng, &tmr_law.inputs[c], previous[c]);
      previous[c] = inputs[c];
    }
    memset(outputs, 0, sizeof outputs); /* as the TypeScript twin: an output a law forgets reads 0 */
    tmr_law.step(state, inputs, outputs);
    const int bad = tmr_law_first_output_out_of_range(outputs);
    if (bad >= 0) {
      if (failure != NULL) {
        failure->segment = (uint8_t)segment;
        failure->step = (uint8_t)step;
        failure->value = outputs[bad];
      }
      return fail_at(failure, TMR_LAW_ERROR_SELF_TEST_OUTPUT, (unsigned)bad);
    }
    for (unsigned o = 0; o < tmr_law.output_count; o++) *hash = crc32_update_u32_le(*hash, (uint32_t)outputs[o]);
    *hash = crc32_update_u32_le(*hash, tmr_law_digest(state));
  }
  return TMR_LAW_OK;
}

int tmr_law_self_test(uint32_t *hash_out, tmr_law_failure_t *failure) {
  state_storage_t state;
  int32_t params[TMR_LAW_PARAMS_MAX];
  prng_t prng;
  uint32_t hash = 0;
  int error = tmr_law_check_declaration(failure);
  if (error != TMR_LAW_OK) return error;
  prng_seed(&prng, TMR_LAW_SELF_TEST_SEED);
  for (unsigned segment = 0; segment < TMR_LAW_SELF_TEST_SEGMENTS; segment++) {
    for (unsigned i = 0; i < tmr_law.param_count; i++) {
      params[i] = segment == 0 ? tmr_law.params[i].default_value : draw_param(&prng, &tmr_law.params[i]);
    }
    error = self_test_segment(&prng, state.bytes, params, segment, &hash, failure);
    if (error != TMR_LAW_OK) return error;
  }
  *hash_out = hash;
  return TMR_LAW_OK;
}

int tmr_law_self_test_hash(uint32_t *hash_out) { return tmr_law_self_test(hash_out, NULL); }
