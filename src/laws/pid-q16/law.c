/* Control law "pid-q16", version 2: a position PID for a motor-driven actuator, in integer fixed
 * point only. Its TypeScript twin is law.ts beside this file; `tmr law check pid-q16` runs both
 * and compares every output and state byte. The arithmetic is version 1's (the law the firmware
 * and the host hard-wired before laws were modules): for the same parameters and inputs the
 * outputs are identical.
 *
 * Units and ranges (every quantity an integer):
 *   setpointMilliDeg, positionMilliDeg     [-2^19, 2^19] milli-degrees (inputs)
 *   error = setpoint - position            |e| <= 2^20
 *   delta (position change over a tick)    |d| <= 2^20
 *   kpQ16  mV per milli-degree, Q16.16                [0, 2^24)
 *   kiQ16  mV per (milli-degree * tick), Q16.16       [0, 2^24)
 *   kdQ16  mV per (milli-degree per tick), Q16.16     [0, 2^26)
 *   outputLimitMv                                     [1, 2^15)
 *   integral_q16  mV, Q16.16                          |i| <= outputLimitMv * 2^16 < 2^31
 * Outputs: commandMv [-32767, 32767] mV, within +-outputLimitMv, safe 0 (no drive), voted exact;
 *          rateMilliDegPerTick [-2^20, 2^20] = delta (0 on the first step), safe 0, voted
 *          mid-value within 2.
 *
 * Overflow analysis (magnitudes, all in int64_t): p = kp*e < 2^24 * 2^20 = 2^44;
 * d = kd*delta < 2^26 * 2^20 = 2^46; integral + ki*e < 2^31 + 2^44 < 2^45; u = p + i + d < 2^47.
 * The only rounding is floor division by 2^16, written out so it does not rest on how a compiler
 * shifts negative numbers. int32 differences (e, delta) stay below 2^21: no int32 overflow.
 *
 * Anti-windup: the integral is clamped to +-outputLimitMv and not advanced on a tick where the
 * unsaturated output is beyond the limit and the new integral pushes further into it. The
 * derivative acts on the measurement, so setpoint steps do not kick the output.
 *
 * Version 2 (against 1): the state no longer holds the tick. Serialised state, 10 bytes:
 *   [0] format 2, [1..4] integral_q16 int32 LE, [5..8] previous position int32 LE, [9] primed 0/1.
 * deserialize() refuses another format, |integral| > outputLimitMv * 2^16, a previous position
 * outside +-2^19 and primed not 0/1. */
#include <stddef.h>
#include <stdint.h>

#include "tmr_law.h"

#define Q16_ONE 65536L
#define POSITION_LIMIT_MILLIDEG 524288L /* 2^19 */
#define STATE_FORMAT 2u
#define STATE_SIZE_BYTES 10u

typedef struct {
  int32_t kp_q16, ki_q16, kd_q16, output_limit_mv; /* the parameters, copied by init() */
  int32_t integral_q16;                            /* mV, Q16.16, |.| <= output_limit_mv * 2^16 */
  int32_t previous_position_milli_deg;             /* the last step's position input */
  uint8_t primed;                                  /* 0 before the first step (no derivative term) */
} pid_state_t;

/* C99 has no _Static_assert: a negative array size stops the build instead. */
typedef char pid_state_fits[sizeof(pid_state_t) <= TMR_LAW_STATE_STRUCT_BYTES_MAX ? 1 : -1];

static void pid_init(void *state, const int32_t *params) {
  pid_state_t *s = state;
  s->kp_q16 = params[0];
  s->ki_q16 = params[1];
  s->kd_q16 = params[2];
  s->output_limit_mv = params[3];
  s->integral_q16 = 0;
  s->previous_position_milli_deg = 0;
  s->primed = 0;
}

static int64_t floor_q16(int64_t u) { return u >= 0 ? u / Q16_ONE : -((-u + (Q16_ONE - 1)) / Q16_ONE); }

static void pid_step(void *state, const int32_t *inputs, int32_t *outputs) {
  pid_state_t *s = state;
  const int32_t setpoint = inputs[0], position = inputs[1];
  const int64_t limit_q16 = (int64_t)s->output_limit_mv * Q16_ONE;
  const int32_t error = setpoint - position;
  const int32_t delta = s->primed ? position - s->previous_position_milli_deg : 0;
  const int64_t p_term = (int64_t)s->kp_q16 * error;
  const int64_t d_term = -((int64_t)s->kd_q16 * delta);
  int64_t candidate = (int64_t)s->integral_q16 + (int64_t)s->ki_q16 * error;
  if (candidate > limit_q16) candidate = limit_q16;
  else if (candidate < -limit_q16) candidate = -limit_q16;
  int64_t u = p_term + candidate + d_term;
  if ((u > limit_q16 && candidate > s->integral_q16) || (u < -limit_q16 && candidate < s->integral_q16)) {
    candidate = s->integral_q16;
    u = p_term + candidate + d_term;
  }
  int64_t command = floor_q16(u);
  if (command > s->output_limit_mv) command = s->output_limit_mv;
  else if (command < -s->output_limit_mv) command = -s->output_limit_mv;
  s->integral_q16 = (int32_t)candidate;
  s->previous_position_milli_deg = position;
  s->primed = 1;
  outputs[0] = (int32_t)command;
  outputs[1] = delta;
}

static void pid_serialize(const void *state, uint8_t *out) {
  const pid_state_t *s = state;
  out[0] = STATE_FORMAT;
  tmr_put_i32_le(out + 1, s->integral_q16);
  tmr_put_i32_le(out + 5, s->previous_position_milli_deg);
  out[9] = s->primed;
}

static int pid_deserialize(void *state, const uint8_t *bytes) {
  pid_state_t *s = state;
  const int32_t integral = tmr_get_i32_le(bytes + 1);
  const int32_t position = tmr_get_i32_le(bytes + 5);
  const int64_t limit_q16 = (int64_t)s->output_limit_mv * Q16_ONE;
  if (bytes[0] != STATE_FORMAT) return 1;
  if (integral > limit_q16 || integral < -limit_q16) return 1;
  if (position > POSITION_LIMIT_MILLIDEG || position < -POSITION_LIMIT_MILLIDEG) return 1;
  if (bytes[9] > 1) return 1;
  s->integral_q16 = integral;
  s->previous_position_milli_deg = position;
  s->primed = bytes[9];
  return 0;
}

static const tmr_input_t INPUTS[] = {
    {"setpointMilliDeg", "mdeg", -POSITION_LIMIT_MILLIDEG, POSITION_LIMIT_MILLIDEG},
    {"positionMilliDeg", "mdeg", -POSITION_LIMIT_MILLIDEG, POSITION_LIMIT_MILLIDEG},
};

static const tmr_output_t OUTPUTS[] = {
    {"commandMv", "mV", -32767, 32767, 0, TMR_VOTE_EXACT, 0},
    {"rateMilliDegPerTick", "mdeg/tick", -1048576L, 1048576L, 0, TMR_VOTE_MID_VALUE, 2},
};

/* Defaults: 1.8 mV/mdeg, 2 mV/(mdeg s) and 0.045 mV s/mdeg at 200 Hz, a 12 V supply. */
static const tmr_param_t PARAMS[] = {
    {"kpQ16", 0, 16777215L, 117965L},
    {"kiQ16", 0, 16777215L, 655},
    {"kdQ16", 0, 67108863L, 589824L},
    {"outputLimitMv", 1, 32767, 12000},
};

const tmr_law_t tmr_law = {
    .name = "pid-q16",
    .version = 2,
    .input_count = 2,
    .output_count = 2,
    .param_count = 4,
    .inputs = INPUTS,
    .outputs = OUTPUTS,
    .params = PARAMS,
    .state_size_bytes = STATE_SIZE_BYTES,
    .state_struct_bytes = (uint16_t)sizeof(pid_state_t),
    .init = pid_init,
    .step = pid_step,
    .serialize = pid_serialize,
    .deserialize = pid_deserialize,
};
