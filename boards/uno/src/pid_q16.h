/* Control law "pid-q16" version 1, bit-identical to src/core/control-law.ts (neither is the
 * reference: both must reproduce test/vectors/pid-q16-v1.txt). Integer fixed point only.
 *
 * Units and ranges: positions in milli-degrees within +-2^19; kp, ki, kd in Q16.16 (mV per
 * milli-degree, per milli-degree-tick, per milli-degree/tick), kp, ki < 2^24, kd < 2^26;
 * output_limit_mv in [1, 2^15). Every intermediate is below 2^47 in magnitude (int64_t), so
 * nothing overflows; the one rounding is floor division by 2^16. No dynamic allocation. */
#ifndef TMR_PID_Q16_H
#define TMR_PID_Q16_H
#include <stdint.h>

#define PID_LAW_ID 1u
#define PID_POSITION_LIMIT_MILLIDEG (1L << 19)
#define PID_STATE_FORMAT_VERSION 1u
#define PID_STATE_SIZE_BYTES 14u
#define PID_SELF_TEST_SEED 0x7a3f0001u
#define PID_SELF_TEST_STEPS 256u

typedef struct {
  int32_t kp_q16;
  int32_t ki_q16;
  int32_t kd_q16;
  int32_t output_limit_mv;
} pid_params_t;

typedef struct {
  int32_t integral_q16;      /* mV in Q16.16, |integral| <= output_limit_mv * 2^16 */
  int32_t previous_position; /* milli-degrees */
  uint32_t last_tick;        /* tick of the last step: makes the digest prove progress */
  uint8_t primed;            /* 0 before the first step (no derivative term then) */
} pid_state_t;

/* 1 if the parameters are within the law's ranges. */
int pid_params_valid(const pid_params_t *params);
/* 1 if a position or setpoint is within +-2^19 milli-degrees. */
int pid_position_valid(int32_t milli_deg);
void pid_reset(pid_state_t *state);
/* One control step; inputs must be valid (the caller checks what came off the wire). */
void pid_step(const pid_params_t *params, pid_state_t *state, uint32_t tick, int32_t setpoint_milli_deg,
              int32_t position_milli_deg, int32_t *command_mv, int32_t *rate_milli_deg_per_tick);
void pid_serialize(const pid_state_t *state, uint8_t out[PID_STATE_SIZE_BYTES]);
/* 0 on success; -1 for a malformed state (wrong version, out of range, primed not 0/1). */
int pid_deserialize(const uint8_t bytes[PID_STATE_SIZE_BYTES], const pid_params_t *params, pid_state_t *into);
/* CRC-32 of the serialised state: the digest every output carries. */
uint32_t pid_digest(const pid_state_t *state);

/* The input generator shared by the self-test and the test vectors (see control-law.ts);
 * `prng` is a prng_t (prng.h). */
void pid_draw_inputs(void *prng, int32_t previous_position, int32_t *setpoint, int32_t *position);
/* The law's self-test hash, computed by running it (0x4b3293ca for a correct implementation). */
uint32_t pid_self_test_hash(void);

extern const pid_params_t PID_SELF_TEST_PARAMS;

#endif
