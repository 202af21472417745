/* Checks the C law the build links (`tmr_law`, through the SDK: law_runtime.h) against test vectors
 * that `tmr law vectors LAW --out FILE` writes from its TypeScript twin (format: src/cli/law-cli.ts,
 * writeVectors):
 *   law NAME VERSION SELFTESTHASH   the name and version this build links, and its self-test hash
 *                                   (tmr_law_self_test) equal to the file's
 *   params P0 P1 ...                param_count values: tmr_law_state_init() accepts them
 *   step I0 I1 ... -> O0 O1 ... state HEX
 *                                   one step from the state so far: every output equal, the
 *                                   serialised state equal byte for byte, and deserialize()
 *                                   accepting the file's state (a state transfer from the twin)
 * Prints the first difference (line, step, field, file value, C value) and exits 1, or prints what
 * it verified and exits 0. Exit 2: the file could not be read or parsed, ends inside a line, or
 * holds another number of steps than STEPS when given (a truncated file).
 *
 *   check_vectors FILE [STEPS]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "law_runtime.h"
#include "tmr_law.h"

#define LINE_BYTES_MAX 1024 /* a step with 8 inputs, 8 outputs and 64 state bytes is under 400 */

static FILE *file;
static char line[LINE_BYTES_MAX];
static unsigned long line_number = 0;
static unsigned long steps = 0, parameter_sets = 0;

static void parse_error(const char *what) {
  fprintf(stderr, "check_vectors: line %lu: %s\n", line_number, what);
  exit(2);
}

static void difference(const char *field, const char *format, ...) {
  va_list args;
  printf("FIRST DIFFERENCE at line %lu (step %lu), field %s: ", line_number, steps, field);
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  printf("\n");
  exit(1);
}

/* Next record line (skipping comments and blank lines), without its newline; 0 at end of file. */
static int next_record(void) {
  while (fgets(line, sizeof line, file) != NULL) {
    line_number++;
    char *newline = strchr(line, '\n');
    if (newline == NULL) parse_error(feof(file) ? "the file ends inside a line (truncated?)" : "line too long");
    *newline = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    return 1;
  }
  return 0;
}

/* The next space-separated word at *cursor (advanced past it); NULL at the end of the line. */
static char *next_word(char **cursor) {
  char *at = *cursor;
  while (*at == ' ') at++;
  if (*at == '\0') return NULL;
  char *end = at;
  while (*end != ' ' && *end != '\0') end++;
  if (*end == ' ') *end++ = '\0';
  *cursor = end;
  return at;
}

static int32_t parse_int32(const char *word, const char *what) {
  char *end;
  errno = 0;
  const long long value = strtoll(word, &end, 10);
  if (errno != 0 || *end != '\0' || end == word || value < INT32_MIN || value > INT32_MAX) parse_error(what);
  return (int32_t)value;
}

/* Up to `max` int32 words until `stop` (or the end of the line if stop is NULL); returns the count. */
static unsigned parse_int32_list(char **cursor, const char *stop, int32_t *values, unsigned max, const char *what) {
  unsigned count = 0;
  for (;;) {
    const char *word = next_word(cursor);
    if (word == NULL) {
      if (stop != NULL) parse_error(what);
      return count;
    }
    if (stop != NULL && strcmp(word, stop) == 0) return count;
    if (count == max) parse_error(what);
    values[count++] = parse_int32(word, what);
  }
}

static void check_law(char *cursor) {
  const char *name = next_word(&cursor), *version = next_word(&cursor), *hash = next_word(&cursor);
  if (name == NULL || version == NULL || hash == NULL || next_word(&cursor) != NULL) parse_error("malformed 'law' record");
  char *end;
  const unsigned long file_hash = strtoul(hash, &end, 16);
  if (*end != '\0' || strlen(hash) != 8) parse_error("malformed self-test hash");
  if (strcmp(name, tmr_law.name) != 0 || parse_int32(version, "malformed version") != (int32_t)tmr_law.version) {
    difference("law", "file %s v%s, C %s v%u", name, version, tmr_law.name, (unsigned)tmr_law.version);
  }
  tmr_law_failure_t failure = {0, 0, 0, 0};
  uint32_t c_hash = 0;
  const int error = tmr_law_self_test(&c_hash, &failure);
  if (error != TMR_LAW_OK) difference("self-test", "the C law fails it: error %d (law_runtime.h), index %u", error, (unsigned)failure.index);
  if ((uint32_t)file_hash != c_hash) difference("self-test hash", "file %08lx, C %08" PRIx32, file_hash, c_hash);
}

static void check_params(char *cursor) {
  int32_t params[TMR_LAW_PARAMS_MAX];
  const unsigned count = parse_int32_list(&cursor, NULL, params, TMR_LAW_PARAMS_MAX, "malformed 'params' record");
  if (count != tmr_law.param_count) difference("params", "file has %u values, the law declares %u", count, (unsigned)tmr_law.param_count);
  tmr_law_failure_t failure = {0, 0, 0, 0};
  if (tmr_law_state_init(params, &failure) != TMR_LAW_OK) {
    difference("params", "the C law refuses parameter %u = %" PRId32, (unsigned)failure.index, failure.value);
  }
  parameter_sets++;
}

static void parse_hex(const char *hex, uint8_t *out, unsigned size) {
  if (strlen(hex) != 2u * size) parse_error("state is not state_size_bytes bytes of hex");
  for (unsigned i = 0; i < size; i++) {
    unsigned value;
    if (sscanf(hex + 2 * i, "%2x", &value) != 1) parse_error("bad hex in state");
    out[i] = (uint8_t)value;
  }
}

static void check_step(char *cursor) {
  int32_t inputs[TMR_LAW_CHANNELS_MAX], file_outputs[TMR_LAW_CHANNELS_MAX], outputs[TMR_LAW_CHANNELS_MAX];
  uint8_t file_state[TMR_LAW_STATE_BYTES_MAX], state[TMR_LAW_STATE_BYTES_MAX];
  const unsigned size = tmr_law.state_size_bytes;
  if (parameter_sets == 0) parse_error("a step before any 'params' record");
  const unsigned in_count = parse_int32_list(&cursor, "->", inputs, TMR_LAW_CHANNELS_MAX, "malformed 'step' inputs");
  const unsigned out_count = parse_int32_list(&cursor, "state", file_outputs, TMR_LAW_CHANNELS_MAX, "malformed 'step' outputs");
  const char *hex = next_word(&cursor);
  if (hex == NULL || next_word(&cursor) != NULL) parse_error("malformed 'step' state");
  if (in_count != tmr_law.input_count) difference("inputs", "file has %u, the law declares %u", in_count, (unsigned)tmr_law.input_count);
  if (out_count != tmr_law.output_count) difference("outputs", "file has %u, the law declares %u", out_count, (unsigned)tmr_law.output_count);
  const int bad = tmr_law_first_input_out_of_range(inputs);
  if (bad >= 0) difference("inputs", "input %d = %" PRId32 " is outside its declared range", bad, inputs[bad]);
  parse_hex(hex, file_state, size);
  memset(outputs, 0, sizeof outputs);
  tmr_law.step(tmr_law_state(), inputs, outputs);
  for (unsigned c = 0; c < out_count; c++) {
    if (outputs[c] != file_outputs[c]) {
      char field[64];
      snprintf(field, sizeof field, "output %u (%s)", c, tmr_law.outputs[c].name);
      difference(field, "file %" PRId32 ", C %" PRId32, file_outputs[c], outputs[c]);
    }
  }
  tmr_law.serialize(tmr_law_state(), state);
  for (unsigned i = 0; i < size; i++) {
    if (state[i] != file_state[i]) difference("state", "byte %u: file %02x, C %02x (file state %s)", i, file_state[i], state[i], hex);
  }
  if (tmr_law.deserialize(tmr_law_state(), file_state) != 0) difference("state transfer", "the C law's deserialize() refuses %s", hex);
  steps++;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: check_vectors FILE [STEPS]\n");
    return 2;
  }
  static const uint8_t check[] = "123456789";
  if (crc32_update(0, check, 9) != 0xcbf43926u) {
    printf("FIRST DIFFERENCE: crc32(\"123456789\") = %08" PRIx32 ", expected cbf43926\n", crc32_update(0, check, 9));
    return 1;
  }
  tmr_law_failure_t failure = {0, 0, 0, 0};
  const int declaration = tmr_law_check_declaration(&failure);
  if (declaration != TMR_LAW_OK) {
    printf("FIRST DIFFERENCE: the C law's declaration is malformed: error %d (law_runtime.h), index %u\n", declaration, (unsigned)failure.index);
    return 1;
  }
  file = fopen(argv[1], "r");
  if (file == NULL) {
    fprintf(stderr, "check_vectors: cannot open %s\n", argv[1]);
    return 2;
  }
  int law_seen = 0;
  while (next_record()) {
    char *cursor = line;
    const char *kind = next_word(&cursor);
    if (kind == NULL) parse_error("a line of spaces");
    if (strcmp(kind, "law") == 0) {
      if (law_seen) parse_error("a second 'law' record");
      check_law(cursor);
      law_seen = 1;
    } else if (!law_seen) {
      parse_error("records before the 'law' record");
    } else if (strcmp(kind, "params") == 0) {
      check_params(cursor);
    } else if (strcmp(kind, "step") == 0) {
      check_step(cursor);
    } else {
      parse_error("unknown record");
    }
  }
  fclose(file);
  if (!law_seen) parse_error("no 'law' record");
  if (argc == 3 && strtoul(argv[2], NULL, 10) != steps) {
    fprintf(stderr, "check_vectors: %s holds %lu steps, expected %s (truncated?)\n", argv[1], steps, argv[2]);
    return 2;
  }
  uint32_t hash = 0;
  (void)tmr_law_self_test_hash(&hash);
  printf("verified: law %s v%u, %lu parameter sets, %lu steps (outputs, state bytes, state transfers), self-test hash %08" PRIx32 "\n",
         tmr_law.name, (unsigned)tmr_law.version, parameter_sets, steps, hash);
  return 0;
}
