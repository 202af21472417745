/* Checks the C control law against test/vectors/pid-q16-v1.txt, every record of it:
 *   full runs   the generator reproduces the recorded inputs, and each step's command, rate,
 *               digest and serialised state match;
 *   edge cases  from the recorded initial state, each step matches;
 *   long runs   100,000 generated steps per set, the CRC chain and digest at every checkpoint;
 *   self_test   the self-test hash, both from its record and from pid_self_test_hash().
 * Prints the first difference (line, record, step, field, file value, C value) and exits 1, or
 * prints what it verified and exits 0. Exit 2: the file could not be read or parsed.
 *
 *   check_vectors FILE
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/pid_q16.h"
#include "crc32.h"
#include "prng.h"

#define SETS_MAX 16
#define LINE_BYTES_MAX 256

static pid_params_t sets[SETS_MAX];
static unsigned set_count = 0;
static unsigned long line_number = 0;
static FILE *file;
static char line[LINE_BYTES_MAX];
static unsigned long steps_full = 0, steps_edge = 0, steps_long = 0, checkpoints = 0;

static void parse_error(const char *what) {
  fprintf(stderr, "check_vectors: line %lu: %s\n", line_number, what);
  exit(2);
}

static void difference(const char *record, unsigned long step, const char *field, const char *format, ...) {
  va_list args;
  printf("FIRST DIFFERENCE at line %lu (%s, step %lu), field %s: ", line_number, record, step, field);
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  printf("\n");
  exit(1);
}

/* Next record line (skipping comments and blank lines); 0 at end of file. */
static int next_record(void) {
  while (fgets(line, sizeof line, file) != NULL) {
    line_number++;
    if (strchr(line, '\n') == NULL && !feof(file)) parse_error("line longer than 255 bytes");
    if (line[0] == '#' || line[0] == '\n' || line[0] == '\0') continue;
    return 1;
  }
  return 0;
}

static const pid_params_t *set_params(unsigned set) {
  if (set >= set_count) parse_error("unknown set");
  return &sets[set];
}

static void hex_state(const pid_state_t *state, char out[2 * PID_STATE_SIZE_BYTES + 1]) {
  uint8_t bytes[PID_STATE_SIZE_BYTES];
  pid_serialize(state, bytes);
  for (unsigned i = 0; i < PID_STATE_SIZE_BYTES; i++) sprintf(out + 2 * i, "%02x", bytes[i]);
}

static void parse_hex_state(const char *hex, uint8_t out[PID_STATE_SIZE_BYTES]) {
  if (strlen(hex) != 2 * PID_STATE_SIZE_BYTES) parse_error("state is not 28 hex digits");
  for (unsigned i = 0; i < PID_STATE_SIZE_BYTES; i++) {
    unsigned value;
    if (sscanf(hex + 2 * i, "%2x", &value) != 1) parse_error("bad hex in state");
    out[i] = (uint8_t)value;
  }
}

/* Reads `steps` 's' records and checks each against one law step. With a generator, the
 * recorded inputs must also be what the generator draws. */
static void check_steps(const char *record, const pid_params_t *params, pid_state_t *state, unsigned long steps, prng_t *generator,
                        uint32_t tick_start) {
  int32_t previous_position = 0;
  for (unsigned long k = 0; k < steps; k++) {
    unsigned long step, tick;
    long setpoint, position, command, rate;
    unsigned long digest;
    char state_hex[64];
    if (!next_record()) parse_error("file ends inside a run");
    if (sscanf(line, "s %lu %lu %ld %ld %ld %ld %lx %63s", &step, &tick, &setpoint, &position, &command, &rate, &digest, state_hex) != 8) {
      parse_error("malformed 's' record");
    }
    if (step != k) parse_error("'s' records out of order");
    if (generator != NULL) {
      int32_t sp, pos;
      pid_draw_inputs(generator, previous_position, &sp, &pos);
      previous_position = pos;
      if ((uint32_t)(tick_start + step) != (uint32_t)tick) difference(record, step, "tick", "file %lu, C %lu", tick, (unsigned long)(uint32_t)(tick_start + step));
      if (sp != setpoint) difference(record, step, "setpoint (generator)", "file %ld, C %ld", setpoint, (long)sp);
      if (pos != position) difference(record, step, "position (generator)", "file %ld, C %ld", position, (long)pos);
    }
    int32_t c_command, c_rate;
    pid_step(params, state, (uint32_t)tick, (int32_t)setpoint, (int32_t)position, &c_command, &c_rate);
    if (c_command != command) difference(record, step, "command", "file %ld, C %ld", command, (long)c_command);
    if (c_rate != rate) difference(record, step, "rate", "file %ld, C %ld", rate, (long)c_rate);
    if (pid_digest(state) != (uint32_t)digest) difference(record, step, "digest", "file %08lx, C %08lx", digest, (unsigned long)pid_digest(state));
    char c_state[2 * PID_STATE_SIZE_BYTES + 1];
    hex_state(state, c_state);
    if (strcmp(c_state, state_hex) != 0) difference(record, step, "state", "file %s, C %s", state_hex, c_state);
  }
}

static void check_full(void) {
  unsigned set;
  unsigned long seed, tick_start, steps;
  if (sscanf(line, "full %u %lx %lu %lu", &set, &seed, &tick_start, &steps) != 4) parse_error("malformed 'full' record");
  prng_t generator;
  pid_state_t state;
  prng_seed(&generator, (uint32_t)seed);
  pid_reset(&state);
  check_steps("full", set_params(set), &state, steps, &generator, (uint32_t)tick_start);
  steps_full += steps;
}

static void check_edge(void) {
  unsigned set;
  char name[64], initial_hex[64];
  unsigned long steps;
  if (sscanf(line, "edge %u %63s %63s %lu", &set, name, initial_hex, &steps) != 4) parse_error("malformed 'edge' record");
  uint8_t initial[PID_STATE_SIZE_BYTES];
  pid_state_t state;
  parse_hex_state(initial_hex, initial);
  if (pid_deserialize(initial, set_params(set), &state) != 0) parse_error("edge initial state rejected by pid_deserialize");
  check_steps(name, set_params(set), &state, steps, NULL, 0);
  steps_edge += steps;
}

static void check_long(void) {
  unsigned set;
  unsigned long seed, tick_start, steps, interval;
  if (sscanf(line, "long %u %lx %lu %lu %lu", &set, &seed, &tick_start, &steps, &interval) != 5) parse_error("malformed 'long' record");
  if (interval == 0 || steps % interval != 0) parse_error("long run steps not a multiple of its interval");
  const pid_params_t *params = set_params(set);
  prng_t generator;
  pid_state_t state;
  int32_t setpoint = 0, position = 0, command, rate;
  uint32_t chain = 0;
  uint8_t word[12];
  prng_seed(&generator, (uint32_t)seed);
  pid_reset(&state);
  for (unsigned long step = 0; step < steps; step++) {
    pid_draw_inputs(&generator, position, &setpoint, &position);
    pid_step(params, &state, (uint32_t)(tick_start + step), setpoint, position, &command, &rate);
    const uint32_t digest = pid_digest(&state);
    for (unsigned b = 0; b < 4; b++) {
      word[b] = (uint8_t)((uint32_t)command >> (8 * b));
      word[4 + b] = (uint8_t)((uint32_t)rate >> (8 * b));
      word[8 + b] = (uint8_t)(digest >> (8 * b));
    }
    chain = crc32_update(chain, word, sizeof word);
    if ((step + 1) % interval == 0) {
      unsigned long c_step, c_crc, c_digest;
      if (!next_record()) parse_error("file ends inside a long run");
      if (sscanf(line, "c %lu %lx %lx", &c_step, &c_crc, &c_digest) != 3) parse_error("malformed 'c' record");
      if (c_step != step) parse_error("'c' record for another step");
      if ((uint32_t)c_crc != chain) difference("long", step, "chain crc", "file %08lx, C %08lx", c_crc, (unsigned long)chain);
      if ((uint32_t)c_digest != digest) difference("long", step, "digest", "file %08lx, C %08lx", c_digest, (unsigned long)digest);
      checkpoints++;
    }
  }
  steps_long += steps;
}

static void check_self_test(void) {
  unsigned set;
  unsigned long seed, tick_start, steps, hash;
  if (sscanf(line, "self_test %u %lx %lu %lu %lx", &set, &seed, &tick_start, &steps, &hash) != 5) parse_error("malformed 'self_test' record");
  const pid_params_t *params = set_params(set);
  if (memcmp(params, &PID_SELF_TEST_PARAMS, sizeof *params) != 0) difference("self_test", 0, "params", "the file's set %u differs from PID_SELF_TEST_PARAMS", set);
  if (seed != PID_SELF_TEST_SEED || steps != PID_SELF_TEST_STEPS || tick_start != 0) parse_error("self_test record disagrees with pid_q16.h");
  if (pid_self_test_hash() != (uint32_t)hash) difference("self_test", steps, "hash", "file %08lx, C %08lx", hash, (unsigned long)pid_self_test_hash());
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: check_vectors FILE\n");
    return 2;
  }
  static const uint8_t check[] = "123456789";
  if (crc32_update(0, check, 9) != 0xcbf43926u) {
    printf("FIRST DIFFERENCE: crc32(\"123456789\") = %08lx, expected cbf43926\n", (unsigned long)crc32_update(0, check, 9));
    return 1;
  }
  file = fopen(argv[1], "r");
  if (file == NULL) {
    fprintf(stderr, "check_vectors: cannot open %s\n", argv[1]);
    return 2;
  }
  int ended = 0;
  while (!ended && next_record()) {
    if (strncmp(line, "set ", 4) == 0) {
      unsigned index;
      char name[64];
      long kp, ki, kd, limit;
      if (sscanf(line, "set %u %63s %ld %ld %ld %ld", &index, name, &kp, &ki, &kd, &limit) != 6) parse_error("malformed 'set' record");
      if (index != set_count || set_count >= SETS_MAX) parse_error("sets out of order or too many");
      sets[set_count] = (pid_params_t){(int32_t)kp, (int32_t)ki, (int32_t)kd, (int32_t)limit};
      if (!pid_params_valid(&sets[set_count])) parse_error("set parameters outside the law's ranges");
      set_count++;
    } else if (strncmp(line, "full ", 5) == 0) check_full();
    else if (strncmp(line, "edge ", 5) == 0) check_edge();
    else if (strncmp(line, "long ", 5) == 0) check_long();
    else if (strncmp(line, "self_test ", 10) == 0) check_self_test();
    else if (strncmp(line, "end", 3) == 0) ended = 1;
    else if (strncmp(line, "format ", 7) != 0 && strncmp(line, "law ", 4) != 0 && strncmp(line, "state ", 6) != 0) parse_error("unknown record");
  }
  fclose(file);
  if (!ended) parse_error("no 'end' record: the file is truncated");
  printf("verified: %u parameter sets, %lu full steps, %lu edge steps, %lu long steps (%lu checkpoints), self-test hash %08lx\n", set_count,
         steps_full, steps_edge, steps_long, checkpoints, (unsigned long)pid_self_test_hash());
  return 0;
}
