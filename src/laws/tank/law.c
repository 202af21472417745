/* Control law "tank", version 1: level control of a tank filled through a proportional inlet
 * valve and a booster pump, with a high-level alarm. Integer fixed point only. Its TypeScript
 * twin is law.ts beside this file; `tmr law check tank` compares the two bit for bit.
 *
 * Inputs:  levelSetpointMm [0, 2000] mm; levelMm [0, 2000] mm (the level sensor);
 *          highSwitch [0, 1] (a float switch near the top; 1 = wet).
 * Outputs: valvePermille [0, 1000] per mille open, voted mid-value (+-2), safe 0 (closed);
 *          pumpOn [0, 1], voted exact, safe 0 (off);
 *          alarm [0, 1], voted exact, safe 1 (raised: a loop without a majority is worth a look).
 * Params:  kpQ16 [0, 2^24) per mille of opening per mm of error, Q16.16;
 *          kiQ16 [0, 2^24) per mille per (mm * tick), Q16.16;
 *          pumpOnBelowMm, pumpOffBelowMm, highAlarmMm, alarmClearMm [0, 2000] mm;
 *          switchDebounceTicks [0, 100] ticks.
 *
 * Three parts, in this order each step:
 * - The alarm, a latch with hysteresis: raised when the level is above highAlarmMm or the float
 *   switch has read wet for more than switchDebounceTicks ticks in a row; cleared only when the
 *   level is at or below alarmClearMm and the switch reads dry. While raised, valve and pump are off.
 * - The pump, on/off with hysteresis: on when the level is more than pumpOnBelowMm under the
 *   setpoint, off again once it is no more than pumpOffBelowMm under it.
 * - The valve, a PI controller on the level error e = setpoint - level, |e| <= 2000 < 2^11:
 *   u = kpQ16*e + integral_q16 in Q16.16 per mille. |kp*e| < 2^24 * 2^11 = 2^35, |ki*e| < 2^35,
 *   the integral stays in [0, 1000 * 2^16] < 2^26, so |u| < 2^36: int64_t throughout. The opening
 *   is floor(u / 2^16) clamped to [0, 1000] (the one rounding, written out so it does not rest on
 *   how a compiler shifts negative numbers). Anti-windup: the integral is clamped to
 *   [0, 1000 * 2^16] and not advanced on a tick where the output is saturated and the new integral
 *   pushes further into the saturation. It is reset to 0 while the alarm is raised.
 *
 * Serialised state, 7 bytes: [0] format 1, [1] flags (bit 0 pump on, bit 1 alarm), [2] consecutive
 * wet switch reads (saturating at 255), [3..6] integral_q16 int32 LE. deserialize() refuses another
 * format, unknown flag bits, an integral outside [0, 1000 * 2^16], and a raised alarm with the pump
 * on or a nonzero integral, and a wet count beyond the debounce with the alarm down (step() never
 * leaves either). */
#include <stddef.h>
#include <stdint.h>

#include "tmr_law.h"

#define Q16_ONE 65536L
#define LEVEL_MM_MAX 2000
#define VALVE_PERMILLE_MAX 1000
#define INTEGRAL_Q16_MAX ((int64_t)VALVE_PERMILLE_MAX * Q16_ONE)
#define STATE_FORMAT 1u
#define STATE_SIZE_BYTES 7u
#define SWITCH_COUNT_MAX 255

typedef struct {
  int32_t kp_q16, ki_q16;                      /* the parameters, copied by init() */
  int32_t pump_on_below_mm, pump_off_below_mm; /* hysteresis under the setpoint, mm */
  int32_t high_alarm_mm, alarm_clear_mm;       /* alarm hysteresis, mm */
  int32_t switch_debounce_ticks;
  int32_t integral_q16;    /* per mille, Q16.16, in [0, 1000 * 2^16] */
  uint8_t pump_on;         /* 0 or 1 */
  uint8_t alarm;           /* 0 or 1 */
  uint8_t switch_wet_ticks; /* consecutive wet reads, saturating at 255 */
} tank_state_t;

/* C99 has no _Static_assert: a negative array size stops the build instead. */
typedef char tank_state_fits[sizeof(tank_state_t) <= TMR_LAW_STATE_STRUCT_BYTES_MAX ? 1 : -1];

static void tank_init(void *state, const int32_t *params) {
  tank_state_t *s = state;
  s->kp_q16 = params[0];
  s->ki_q16 = params[1];
  s->pump_on_below_mm = params[2];
  s->pump_off_below_mm = params[3];
  s->high_alarm_mm = params[4];
  s->alarm_clear_mm = params[5];
  s->switch_debounce_ticks = params[6];
  s->integral_q16 = 0;
  s->pump_on = 0;
  s->alarm = 0;
  s->switch_wet_ticks = 0;
}

static int64_t floor_q16(int64_t u) { return u >= 0 ? u / Q16_ONE : -((-u + (Q16_ONE - 1)) / Q16_ONE); }

static void update_alarm(tank_state_t *s, int32_t level, int32_t wet) {
  if (wet == 1) {
    if (s->switch_wet_ticks < SWITCH_COUNT_MAX) s->switch_wet_ticks++;
  } else {
    s->switch_wet_ticks = 0;
  }
  if (s->alarm == 0) {
    if (level > s->high_alarm_mm || s->switch_wet_ticks > s->switch_debounce_ticks) s->alarm = 1;
  } else if (level <= s->alarm_clear_mm && s->switch_wet_ticks == 0) {
    s->alarm = 0;
  }
}

/* The valve's PI step (alarm down); returns the opening in per mille. */
static int32_t valve_step(tank_state_t *s, int32_t error) {
  const int64_t p_term = (int64_t)s->kp_q16 * error;
  int64_t candidate = (int64_t)s->integral_q16 + (int64_t)s->ki_q16 * error;
  if (candidate > INTEGRAL_Q16_MAX) candidate = INTEGRAL_Q16_MAX;
  else if (candidate < 0) candidate = 0;
  int64_t u = p_term + candidate;
  if ((u > INTEGRAL_Q16_MAX && candidate > s->integral_q16) || (u < 0 && candidate < s->integral_q16)) {
    candidate = s->integral_q16;
    u = p_term + candidate;
  }
  int64_t valve = floor_q16(u);
  if (valve > VALVE_PERMILLE_MAX) valve = VALVE_PERMILLE_MAX;
  else if (valve < 0) valve = 0;
  s->integral_q16 = (int32_t)candidate;
  return (int32_t)valve;
}

static void tank_step(void *state, const int32_t *inputs, int32_t *outputs) {
  tank_state_t *s = state;
  const int32_t setpoint = inputs[0], level = inputs[1], wet = inputs[2];
  const int32_t error = setpoint - level;
  int32_t valve = 0;
  update_alarm(s, level, wet);
  if (s->alarm == 1) s->pump_on = 0;
  else if (s->pump_on == 0 && error > s->pump_on_below_mm) s->pump_on = 1;
  else if (s->pump_on == 1 && error <= s->pump_off_below_mm) s->pump_on = 0;
  if (s->alarm == 1) s->integral_q16 = 0;
  else valve = valve_step(s, error);
  outputs[0] = valve;
  outputs[1] = s->pump_on;
  outputs[2] = s->alarm;
}

static void tank_serialize(const void *state, uint8_t *out) {
  const tank_state_t *s = state;
  out[0] = STATE_FORMAT;
  out[1] = (uint8_t)(s->pump_on | (s->alarm << 1));
  out[2] = s->switch_wet_ticks;
  tmr_put_i32_le(out + 3, s->integral_q16);
}

static int tank_deserialize(void *state, const uint8_t *bytes) {
  tank_state_t *s = state;
  const int32_t integral = tmr_get_i32_le(bytes + 3);
  if (bytes[0] != STATE_FORMAT) return 1;
  if (bytes[1] > 3) return 1;
  if (integral < 0 || integral > INTEGRAL_Q16_MAX) return 1;
  /* The alarm stops pump and valve and empties the integral: a state with both is not one step() makes. */
  if (bytes[1] > 1 && (bytes[1] != 2 || integral != 0)) return 1;
  /* With the alarm down, a wet count beyond the debounce would have raised it. */
  if (bytes[1] < 2 && bytes[2] > s->switch_debounce_ticks) return 1;
  s->pump_on = (uint8_t)(bytes[1] & 1u);
  s->alarm = (uint8_t)(bytes[1] >> 1);
  s->switch_wet_ticks = bytes[2];
  s->integral_q16 = integral;
  return 0;
}

static const tmr_input_t INPUTS[] = {
    {"levelSetpointMm", "mm", 0, LEVEL_MM_MAX},
    {"levelMm", "mm", 0, LEVEL_MM_MAX},
    {"highSwitch", "bool", 0, 1},
};

static const tmr_output_t OUTPUTS[] = {
    {"valvePermille", "permille", 0, VALVE_PERMILLE_MAX, 0, TMR_VOTE_MID_VALUE, 2},
    {"pumpOn", "bool", 0, 1, 0, TMR_VOTE_EXACT, 0},
    {"alarm", "bool", 0, 1, 1, TMR_VOTE_EXACT, 0},
};

/* Defaults: 1.5 per mille per mm, 0.005 per mille per mm tick. */
static const tmr_param_t PARAMS[] = {
    {"kpQ16", 0, 16777215L, 98304L},
    {"kiQ16", 0, 16777215L, 328},
    {"pumpOnBelowMm", 0, LEVEL_MM_MAX, 150},
    {"pumpOffBelowMm", 0, LEVEL_MM_MAX, 40},
    {"highAlarmMm", 0, LEVEL_MM_MAX, 1850},
    {"alarmClearMm", 0, LEVEL_MM_MAX, 1750},
    {"switchDebounceTicks", 0, 100, 3},
};

const tmr_law_t tmr_law = {
    .name = "tank",
    .version = 1,
    .input_count = 3,
    .output_count = 3,
    .param_count = 7,
    .inputs = INPUTS,
    .outputs = OUTPUTS,
    .params = PARAMS,
    .state_size_bytes = STATE_SIZE_BYTES,
    .state_struct_bytes = (uint16_t)sizeof(tank_state_t),
    .init = tank_init,
    .step = tank_step,
    .serialize = tank_serialize,
    .deserialize = tank_deserialize,
};
