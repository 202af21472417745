#include "pid_q16.h"

#include "crc32.h"
#include "prng.h"

const pid_params_t PID_SELF_TEST_PARAMS = {3277, 7, 13, 12000};

#define Q16_ONE 65536L

int pid_params_valid(const pid_params_t *p) {
  return p->kp_q16 >= 0 && p->kp_q16 < (1L << 24) && p->ki_q16 >= 0 && p->ki_q16 < (1L << 24) && p->kd_q16 >= 0 &&
         p->kd_q16 < (1L << 26) && p->output_limit_mv >= 1 && p->output_limit_mv < (1L << 15);
}

int pid_position_valid(int32_t milli_deg) {
  return milli_deg >= -PID_POSITION_LIMIT_MILLIDEG && milli_deg <= PID_POSITION_LIMIT_MILLIDEG;
}

void pid_reset(pid_state_t *state) {
  state->integral_q16 = 0;
  state->previous_position = 0;
  state->last_tick = 0;
  state->primed = 0;
}

/* floor(u / 2^16), written out so it does not rest on how a compiler shifts negative numbers. */
static int64_t floor_q16(int64_t u) {
  return u >= 0 ? u / Q16_ONE : -((-u + (Q16_ONE - 1)) / Q16_ONE);
}

void pid_step(const pid_params_t *p, pid_state_t *s, uint32_t tick, int32_t setpoint, int32_t position,
              int32_t *command_mv, int32_t *rate) {
  const int64_t limit_q16 = (int64_t)p->output_limit_mv * Q16_ONE;
  const int32_t error = setpoint - position;                         /* |error| <= 2^20 */
  const int32_t delta = s->primed ? position - s->previous_position : 0; /* |delta| <= 2^20 */
  const int64_t p_term = (int64_t)p->kp_q16 * error;                  /* < 2^44 */
  const int64_t d_term = -((int64_t)p->kd_q16 * delta);               /* < 2^46 */
  int64_t candidate = (int64_t)s->integral_q16 + (int64_t)p->ki_q16 * error;
  if (candidate > limit_q16) candidate = limit_q16;
  else if (candidate < -limit_q16) candidate = -limit_q16;
  int64_t u = p_term + candidate + d_term; /* < 2^47 */
  /* Anti-windup: no integration on a tick that pushes further into saturation. */
  if ((u > limit_q16 && candidate > s->integral_q16) || (u < -limit_q16 && candidate < s->integral_q16)) {
    candidate = s->integral_q16;
    u = p_term + candidate + d_term;
  }
  int64_t command = floor_q16(u);
  if (command > p->output_limit_mv) command = p->output_limit_mv;
  else if (command < -p->output_limit_mv) command = -p->output_limit_mv;
  s->integral_q16 = (int32_t)candidate;
  s->previous_position = position;
  s->last_tick = tick;
  s->primed = 1;
  *command_mv = (int32_t)command;
  *rate = delta;
}

static void put_u32_le(uint8_t *out, uint32_t value) {
  out[0] = (uint8_t)value;
  out[1] = (uint8_t)(value >> 8);
  out[2] = (uint8_t)(value >> 16);
  out[3] = (uint8_t)(value >> 24);
}

static uint32_t get_u32_le(const uint8_t *in) {
  return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
}

void pid_serialize(const pid_state_t *s, uint8_t out[PID_STATE_SIZE_BYTES]) {
  out[0] = PID_STATE_FORMAT_VERSION;
  put_u32_le(out + 1, (uint32_t)s->integral_q16);
  put_u32_le(out + 5, (uint32_t)s->previous_position);
  put_u32_le(out + 9, s->last_tick);
  out[13] = s->primed;
}

int pid_deserialize(const uint8_t b[PID_STATE_SIZE_BYTES], const pid_params_t *params, pid_state_t *into) {
  const int32_t integral = (int32_t)get_u32_le(b + 1);
  const int32_t position = (int32_t)get_u32_le(b + 5);
  const int64_t limit_q16 = (int64_t)params->output_limit_mv * Q16_ONE;
  if (b[0] != PID_STATE_FORMAT_VERSION) return -1;
  if (integral > limit_q16 || integral < -limit_q16) return -1;
  if (!pid_position_valid(position)) return -1;
  if (b[13] > 1) return -1;
  into->integral_q16 = integral;
  into->previous_position = position;
  into->last_tick = get_u32_le(b + 9);
  into->primed = b[13];
  return 0;
}

uint32_t pid_digest(const pid_state_t *state) {
  uint8_t bytes[PID_STATE_SIZE_BYTES];
  pid_serialize(state, bytes);
  return crc32_update(0, bytes, sizeof bytes);
}

void pid_draw_inputs(void *generator, int32_t previous_position, int32_t *setpoint, int32_t *position) {
  prng_t *prng = (prng_t *)generator;
  const int32_t limit = PID_POSITION_LIMIT_MILLIDEG;
  const uint32_t mode = prng_next_below(prng, 8);
  if (mode == 0) {
    *setpoint = prng_next_below(prng, 2) == 0 ? limit : -limit;
    *position = prng_next_below(prng, 2) == 0 ? limit : -limit;
  } else if (mode <= 2) {
    *setpoint = prng_next_int(prng, -limit, limit);
    *position = prng_next_int(prng, -limit, limit);
  } else {
    *setpoint = prng_next_int(prng, -90000, 90000);
    int32_t next = previous_position + prng_next_int(prng, -2000, 2000);
    if (next > limit) next = limit;
    if (next < -limit) next = -limit;
    *position = next;
  }
}

uint32_t pid_self_test_hash(void) {
  prng_t prng;
  pid_state_t state;
  int32_t setpoint = 0, position = 0, command, rate;
  uint32_t hash = 0;
  uint8_t word[12];
  prng_seed(&prng, PID_SELF_TEST_SEED);
  pid_reset(&state);
  for (uint32_t step = 0; step < PID_SELF_TEST_STEPS; step++) {
    pid_draw_inputs(&prng, position, &setpoint, &position);
    pid_step(&PID_SELF_TEST_PARAMS, &state, step, setpoint, position, &command, &rate);
    put_u32_le(word, (uint32_t)command);
    put_u32_le(word + 4, (uint32_t)rate);
    put_u32_le(word + 8, pid_digest(&state));
    hash = crc32_update(hash, word, sizeof word);
  }
  return hash;
}
