/* law-harness: the linked law (`tmr_law`) on stdin/stdout, for `tmr law check`, which runs the
 * same requests against the law's TypeScript twin and compares the replies byte for byte.
 * Protocol (PROTOCOL.md, the host law harness): one request at a time, integers little-endian,
 * each reply flushed; nothing is written on start.
 *
 *   'D'                            -> one line of JSON: the declaration and the self-test hash
 *   'I' params (param_count int32) -> 0x00 after init()
 *   'S' n (uint32, 1..4096), n x input_count int32
 *                                  -> per step: output_count int32, then state_size_bytes of state
 *   'L' state_size_bytes bytes     -> 0x00 accepted, 0x01 refused (state unchanged)
 *   'Q' or end of input            -> exit 0
 *
 * Exit 2, with one line on stderr: a malformed request (unknown op, n out of range, short read),
 * and also a parameter or input outside its declared range (the law is not defined there), or an
 * 'I', 'S' or 'L' while the declaration itself is malformed ('D' still describes it).
 * Exit 3: the law broke its contract (deserialize() refused but changed the state).
 * Before the first 'I' the state is init() with the default parameters.
 *
 * Build: make -C boards/common harness LAW=path/to/law.c BUILD=dir. Static buffers only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "law_runtime.h"
#include "tmr_law.h"

#define STEPS_PER_REQUEST_MAX 4096u
#define STRING_CHARS_MAX 256u /* longest name or unit written into the JSON */
#define EXIT_MALFORMED 2
#define EXIT_CONTRACT 3

static uint8_t request[STEPS_PER_REQUEST_MAX * TMR_LAW_CHANNELS_MAX * 4u];
static uint8_t reply[STEPS_PER_REQUEST_MAX * (TMR_LAW_CHANNELS_MAX * 4u + TMR_LAW_STATE_BYTES_MAX)];
static int32_t step_inputs[TMR_LAW_CHANNELS_MAX];
static int32_t step_outputs[TMR_LAW_CHANNELS_MAX];
static int declaration_error = TMR_LAW_OK;
static tmr_law_failure_t declaration_failure;

static const char *const ERROR_NAMES[TMR_LAW_ERROR_COUNT] = {
    "OK", "MISSING", "NAME", "INPUT_COUNT", "OUTPUT_COUNT", "PARAM_COUNT", "STATE_SIZE", "STATE_STRUCT_SIZE",
    "INPUT_NAME", "INPUT_RANGE", "OUTPUT_NAME", "OUTPUT_RANGE", "OUTPUT_SAFE", "OUTPUT_VOTE", "OUTPUT_TOLERANCE",
    "PARAM_NAME", "PARAM_RANGE", "PARAM_DEFAULT", "PARAM_VALUE", "SELF_TEST_OUTPUT"};

static const char *error_name(int error) {
  return error >= 0 && error < TMR_LAW_ERROR_COUNT ? ERROR_NAMES[error] : "UNKNOWN";
}

/* A declaration error as text: "OUTPUT_SAFE (output 1)", "NAME". */
static void format_declaration_error(char *text, size_t size, int error, unsigned index) {
  const char *what = error >= TMR_LAW_ERROR_PARAM_NAME ? "param"
                     : error >= TMR_LAW_ERROR_OUTPUT_NAME ? "output"
                     : error >= TMR_LAW_ERROR_INPUT_NAME ? "input"
                     : NULL;
  if (what == NULL) snprintf(text, size, "declaration: %s", error_name(error));
  else snprintf(text, size, "declaration: %s (%s %u)", error_name(error), what, index);
}

static void stop(int status, const char *what) {
  fprintf(stderr, "law-harness: %s\n", what);
  exit(status);
}

static void read_exact(uint8_t *into, size_t size, const char *what) {
  if (fread(into, 1, size, stdin) != size) stop(EXIT_MALFORMED, what);
}

static void write_exact(const uint8_t *bytes, size_t size) {
  if (fwrite(bytes, 1, size, stdout) != size || fflush(stdout) != 0) stop(1, "cannot write stdout");
}

static uint32_t get_u32_le(const uint8_t *in) {
  return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
}

/* Two's complement without relying on an implementation-defined conversion. */
static int32_t get_i32_le(const uint8_t *in) {
  const uint32_t u = get_u32_le(in);
  return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static void put_u32_le(uint8_t *out, uint32_t value) {
  out[0] = (uint8_t)value;
  out[1] = (uint8_t)(value >> 8);
  out[2] = (uint8_t)(value >> 16);
  out[3] = (uint8_t)(value >> 24);
}

/* A JSON string (or null); returns 1 if it had to be cut at STRING_CHARS_MAX. */
static int put_json_string(const char *text) {
  if (text == NULL) {
    fputs("null", stdout);
    return 0;
  }
  size_t i = 0;
  putchar('"');
  for (; i < STRING_CHARS_MAX && text[i] != '\0'; i++) {
    const unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c == '\n') fputs("\\n", stdout);
    else if (c == '\r') fputs("\\r", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c < 0x20) printf("\\u%04x", (unsigned)c);
    else putchar(c);
  }
  putchar('"');
  return text[i] != '\0';
}

static unsigned listed(const void *table, unsigned count, unsigned limit) {
  return table == NULL ? 0u : count < limit ? count : limit;
}

/* The channel tables, as far as they exist and fit the limits (a malformed declaration still
 * gets described, with its error). Returns 1 if a string was cut. */

static int put_channels(void) {
  const tmr_law_t *law = &tmr_law;
  const unsigned inputs = listed(law->inputs, law->input_count, TMR_LAW_CHANNELS_MAX);
  const unsigned outputs = listed(law->outputs, law->output_count, TMR_LAW_CHANNELS_MAX);
  const unsigned params = listed(law->params, law->param_count, TMR_LAW_PARAMS_MAX);
  int cut = 0;
  fputs(",\"inputs\":[", stdout);
  for (unsigned i = 0; i < inputs; i++) {
    const tmr_input_t *in = &law->inputs[i];
    fputs(i == 0 ? "{\"name\":" : ",{\"name\":", stdout);
    cut |= put_json_string(in->name);
    fputs(",\"unit\":", stdout);
    cut |= put_json_string(in->unit);
    printf(",\"min\":%" PRId32 ",\"max\":%" PRId32 "}", in->min, in->max);
  }
  fputs("],\"outputs\":[", stdout);
  for (unsigned i = 0; i < outputs; i++) {
    const tmr_output_t *o = &law->outputs[i];
    fputs(i == 0 ? "{\"name\":" : ",{\"name\":", stdout);
    cut |= put_json_string(o->name);
    fputs(",\"unit\":", stdout);
    cut |= put_json_string(o->unit);
    const char *vote = o->vote == TMR_VOTE_EXACT ? "exact" : o->vote == TMR_VOTE_MID_VALUE ? "mid-value" : "invalid";
    printf(",\"min\":%" PRId32 ",\"max\":%" PRId32 ",\"safe\":%" PRId32, o->min, o->max, o->safe);
    printf(",\"vote\":\"%s\",\"tolerance\":%" PRId32 "}", vote, o->tolerance);
  }
  fputs("],\"params\":[", stdout);
  for (unsigned i = 0; i < params; i++) {
    const tmr_param_t *p = &law->params[i];
    fputs(i == 0 ? "{\"name\":" : ",{\"name\":", stdout);
    cut |= put_json_string(p->name);
    printf(",\"min\":%" PRId32 ",\"max\":%" PRId32 ",\"default\":%" PRId32 "}", p->min, p->max, p->default_value);
  }
  putchar(']');
  return cut;
}

static void put_self_test(int cut) {
  char text[STRING_CHARS_MAX + 96u] = "";
  tmr_law_failure_t failure;
  uint32_t hash = 0;
  memset(&failure, 0, sizeof failure);
  const int error = declaration_error != TMR_LAW_OK ? declaration_error : tmr_law_self_test(&hash, &failure);
  if (declaration_error != TMR_LAW_OK) {
    format_declaration_error(text, sizeof text, error, declaration_failure.index);
  } else if (cut) {
    snprintf(text, sizeof text, "declaration: a name or unit longer than %u characters", STRING_CHARS_MAX);
  } else if (error == TMR_LAW_ERROR_SELF_TEST_OUTPUT) {
    const tmr_output_t *o = &tmr_law.outputs[failure.index];
    snprintf(text, sizeof text, "output %.64s = %" PRId32 " outside [%" PRId32 ", %" PRId32 "] at segment %u step %u",
             o->name, failure.value, o->min, o->max, (unsigned)failure.segment, (unsigned)failure.step);
  } else if (error != TMR_LAW_OK) {
    snprintf(text, sizeof text, "self-test: %s", error_name(error));
  }
  if (error == TMR_LAW_OK && !cut) {
    printf(",\"selfTestHash\":%" PRIu32 "}\n", hash);
  } else {
    fputs(",\"selfTestError\":", stdout);
    put_json_string(text);
    fputs("}\n", stdout);
  }
}

static void describe(void) {
  fputs("{\"name\":", stdout);
  int cut = put_json_string(tmr_law.name);
  printf(",\"version\":%u", (unsigned)tmr_law.version);
  cut |= put_channels();
  printf(",\"stateSizeBytes\":%u", (unsigned)tmr_law.state_size_bytes);
  put_self_test(cut);
  if (fflush(stdout) != 0) stop(1, "cannot write stdout");
}

static void require_declaration(void) {
  char text[96];
  if (declaration_error == TMR_LAW_OK) return;
  format_declaration_error(text, sizeof text, declaration_error, declaration_failure.index);
  fprintf(stderr, "law-harness: malformed %s\n", text);
  exit(EXIT_MALFORMED);
}

static void init_request(void) {
  int32_t params[TMR_LAW_PARAMS_MAX];
  const uint8_t done = 0;
  require_declaration();
  read_exact(request, (size_t)tmr_law.param_count * 4u, "short read in 'I'");
  for (unsigned i = 0; i < tmr_law.param_count; i++) params[i] = get_i32_le(request + 4u * i);
  if (tmr_law_state_init(params, NULL) != TMR_LAW_OK) stop(EXIT_MALFORMED, "'I': a parameter outside its declared range");
  write_exact(&done, 1);
}

static void read_inputs(const uint8_t *row) {
  for (unsigned c = 0; c < tmr_law.input_count; c++) step_inputs[c] = get_i32_le(row + 4u * c);
}

static void step_request(void) {
  uint8_t count_bytes[4];
  const size_t input_bytes = (size_t)tmr_law.input_count * 4u;
  const size_t reply_step_bytes = (size_t)tmr_law.output_count * 4u + tmr_law.state_size_bytes;
  require_declaration();
  read_exact(count_bytes, sizeof count_bytes, "short read in 'S'");
  const uint32_t n = get_u32_le(count_bytes);
  if (n < 1 || n > STEPS_PER_REQUEST_MAX) stop(EXIT_MALFORMED, "'S': step count not 1..4096");
  read_exact(request, n * input_bytes, "short read in 'S'");
  for (uint32_t k = 0; k < n; k++) {
    read_inputs(request + k * input_bytes);
    if (tmr_law_first_input_out_of_range(step_inputs) >= 0) {
      stop(EXIT_MALFORMED, "'S': an input outside its declared range");
    }
  }
  for (uint32_t k = 0; k < n; k++) {
    uint8_t *out = reply + k * reply_step_bytes;
    read_inputs(request + k * input_bytes);
    memset(step_outputs, 0, sizeof step_outputs);
    tmr_law.step(tmr_law_state(), step_inputs, step_outputs);
    for (unsigned o = 0; o < tmr_law.output_count; o++) put_u32_le(out + 4u * o, (uint32_t)step_outputs[o]);
    tmr_law.serialize(tmr_law_state(), out + 4u * tmr_law.output_count);
  }
  write_exact(reply, n * reply_step_bytes);
}

static void load_request(void) {
  static uint8_t before[TMR_LAW_STATE_STORAGE_BYTES];
  require_declaration();
  read_exact(request, tmr_law.state_size_bytes, "short read in 'L'");
  memcpy(before, tmr_law_state(), sizeof before);
  const uint8_t refused = tmr_law.deserialize(tmr_law_state(), request) != 0;
  if (refused && memcmp(before, tmr_law_state(), sizeof before) != 0) {
    stop(EXIT_CONTRACT, "the law broke its contract: deserialize() refused the state but changed it");
  }
  write_exact(&refused, 1);
}

int main(void) {
  int32_t defaults[TMR_LAW_PARAMS_MAX];
  declaration_error = tmr_law_check_declaration(&declaration_failure);
  if (declaration_error == TMR_LAW_OK) {
    for (unsigned i = 0; i < tmr_law.param_count; i++) defaults[i] = tmr_law.params[i].default_value;
    (void)tmr_law_state_init(defaults, NULL);
  }
  /* The request loop: one request per pass, until 'Q' or the end of stdin. */
  for (;;) {
    const int op = getchar();
    if (op == EOF || op == 'Q') return 0;
    if (op == 'D') describe();
    else if (op == 'I') init_request();
    else if (op == 'S') step_request();
    else if (op == 'L') load_request();
    else stop(EXIT_MALFORMED, "unknown request");
  }
}
