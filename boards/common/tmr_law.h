/* tmr_law.h: the one header a control law is written against (tmr law SDK, C side).
 *
 * A law is a deterministic function over integers: each tick the runtime hands it one int32 per
 * input channel and it writes one int32 per output channel, advancing its own state in place.
 * The same law exists twice, here in C and in TypeScript (src/laws/NAME/law.ts); `tmr law check`
 * drives both and requires identical outputs and serialised states, bit for bit. The runtime
 * derives the state digest (CRC-32 of serialize()'s bytes) and the self-test hash from these
 * functions (law_runtime.h); a law never computes either.
 *
 * Units. Every value is an int32 in the unit its channel declares ("mdeg", "mV", "mdeg/tick", ...).
 * Time is the tick: a rate is per tick, an integral sums once per tick. A law that needs a
 * physical time constant takes it as a parameter in ticks (or a gain already scaled by the tick
 * rate); it never reads a clock.
 *
 * What the runtime promises the law:
 *   - params[] holds param_count values, each within its declared [min, max];
 *   - inputs[] holds input_count values, each within its declared [min, max];
 *   - outputs[] has room for output_count values;
 *   - `state` points to state_struct_bytes bytes of static storage, aligned for any scalar type,
 *     that nobody else writes; init() is called before any step() or deserialize().
 * What the law promises the runtime:
 *   - init() sets up the whole state from params (copy into the state what step() needs);
 *   - step() writes every output, each within its declared [min, max], for ANY parameters and
 *     inputs within the declared ranges (write the overflow analysis next to the arithmetic);
 *   - serialize() writes exactly state_size_bytes bytes that capture everything step() depends on
 *     besides params (two replicas with equal bytes and equal params step identically);
 *   - deserialize() accepts only bytes serialize() could have written under the current params,
 *     and leaves the state untouched when it refuses (returns nonzero);
 *   - no dynamic allocation, no recursion, every loop bounded by a constant, no floating point on
 *     any path that reaches an output or the state (a float rounds differently on another core),
 *     no clock, no I/O, no global state besides `state`, no undefined behaviour (signed overflow
 *     included: widen to int64_t where a product can exceed 31 bits).
 * The functions run on an 8-bit AVR too: keep a step to a few thousand cycles there (64-bit
 * products and divisions are library calls on that core) and the state struct small.
 *
 * Wrapping generated code (e.g. Simulink Embedded Coder's model_initialize()/model_step() over
 * ExtU/ExtY structs): the state struct holds the model's instance data, init() calls
 * model_initialize(), step() copies inputs into ExtU, calls model_step() and copies ExtY into
 * outputs; see README.md in this folder for the ten lines. Generate integer (fixed-point) code.
 */
#ifndef TMR_LAW_H
#define TMR_LAW_H
#include <stdint.h>

/* Limits of a declaration (tmr_law_check_declaration() enforces them). */
#define TMR_LAW_NAME_CHARS_MAX 24         /* name: 1..24 characters of [a-z0-9-] */
#define TMR_LAW_CHANNELS_MAX 8            /* input_count and output_count: 1..8 */
#define TMR_LAW_PARAMS_MAX 8              /* param_count: 0..8 */
#define TMR_LAW_STATE_BYTES_MAX 64        /* state_size_bytes: 1..64 (serialised; travels per tick) */
#define TMR_LAW_STATE_STRUCT_BYTES_MAX 128 /* state_struct_bytes: 1..128 (RAM the SDK reserves) */

/* How the runtime votes one output channel across replicas.
 *   EXACT:     all agreeing replicas must write the same value (commands, modes, counters);
 *              tolerance must be 0.
 *   MID_VALUE: the middle of the replicas' values wins; values within `tolerance` of each other
 *              agree (telemetry, estimates that may differ in the last bits). */
typedef enum { TMR_VOTE_EXACT = 0, TMR_VOTE_MID_VALUE = 1 } tmr_vote_t;

/* An input channel: name (e.g. "positionMilliDeg"), unit (e.g. "mdeg"), and the range the runtime
 * guarantees, min <= max. */
typedef struct { const char *name; const char *unit; int32_t min, max; } tmr_input_t;

/* An output channel: the range the law guarantees (min <= max), the safe value the actuator falls
 * back to when no majority exists (min <= safe <= max), and how it is voted. */
typedef struct { const char *name; const char *unit; int32_t min, max, safe; tmr_vote_t vote; int32_t tolerance; } tmr_output_t;

/* A parameter: set once per init(), min <= default_value <= max. */
typedef struct { const char *name; int32_t min, max, default_value; } tmr_param_t;

typedef struct {
  const char *name; uint16_t version;  /* version: bump when outputs or the state format change */
  uint8_t input_count, output_count, param_count;
  const tmr_input_t *inputs; const tmr_output_t *outputs; const tmr_param_t *params;
  uint8_t state_size_bytes;          /* serialised */
  uint16_t state_struct_bytes;       /* sizeof the law's own state struct (the SDK stores it) */
  void (*init)(void *state, const int32_t *params);
  void (*step)(void *state, const int32_t *inputs, int32_t *outputs);
  void (*serialize)(const void *state, uint8_t *out);
  int (*deserialize)(void *state, const uint8_t *bytes); /* 0 accepted; nonzero: malformed, state unchanged */
} tmr_law_t;
extern const tmr_law_t tmr_law;

/* A law's serialised state is little-endian whatever the CPU: these write and read an int32 there
 * (two's complement, with no implementation-defined conversion), as writeI32Le/readI32Le do in
 * TypeScript. */
static inline void tmr_put_i32_le(uint8_t *out, int32_t value) {
  const uint32_t u = (uint32_t)value;
  out[0] = (uint8_t)u;
  out[1] = (uint8_t)(u >> 8);
  out[2] = (uint8_t)(u >> 16);
  out[3] = (uint8_t)(u >> 24);
}

static inline int32_t tmr_get_i32_le(const uint8_t *in) {
  const uint32_t u = (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
  return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}   /* the one law a build links */

#endif
