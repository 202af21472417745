#include "board.h"

#include <string.h>

#include "cbor.h"
#include "cobs.h"
#include "crc32.h"
#include "flash.h"
#include "law_runtime.h"
#include "prng.h"

/* Message types, error codes and fault kinds of PROTOCOL.md v3. */
enum { MSG_HELLO, MSG_HELLO_ACK, MSG_REFUSE, MSG_TICK, MSG_OUTPUT, MSG_HEARTBEAT, MSG_STATE_REQUEST, MSG_STATE,
       MSG_ERROR, MSG_INJECT, MSG_TYPE_COUNT };
enum { ERR_UNEXPECTED_MESSAGE = 2, ERR_NOT_CONFIGURED = 3, ERR_INPUT_OUT_OF_RANGE = 4, ERR_BAD_STATE = 5,
       ERR_BAD_LAW_PARAMS = 6, ERR_TICK_GAP = 7 };
enum { FAULT_NONE, FAULT_CRASH, FAULT_HANG, FAULT_WRONG, FAULT_STUCK, FAULT_LATE, FAULT_BABBLE, FAULT_STATE,
       FAULT_BITFLIP, FAULT_KIND_COUNT };

/* Elements of each message type, type number included. */
static const uint8_t FIELD_COUNT[MSG_TYPE_COUNT] FLASH_TABLE = {9, 7, 2, 3, 4, 3, 2, 4, 3, 4};

#define IMPLEMENTATION_BYTES_MAX 32u /* helloAck.implementation */
#define TEXT_BYTES_MAX 64u           /* error.detail */

/* The largest payload the board sends is a state with TMR_LAW_STATE_BYTES_MAX bytes:
 * [7, u32, bytes(64), u32] = 1 + 1 + 5 + 2 + 64 + 5 = 78. (A helloAck is at most 50 bytes, an
 * output with 8 channels 53, an error with our details under 48.) */
#define TX_PAYLOAD_BYTES_MAX (14u + TMR_LAW_STATE_BYTES_MAX)
/* One buffer holds the payload at offset 1 and, after in-place COBS, the frame: a COBS code byte,
 * payload and CRC, the 0x00 delimiter. */
#define TX_FRAME_BYTES_MAX (1u + TX_PAYLOAD_BYTES_MAX + 4u + 1u)
/* An output frame with TMR_LAW_CHANNELS_MAX channels at their widest (5 bytes each):
 * [4, u32, [8 x int32], u32] = 13 + 40 = 53 bytes, + 4 CRC, + 1 COBS code byte, + delimiter. */
#define OUTPUT_FRAME_BYTES_MAX (13u + 5u * TMR_LAW_CHANNELS_MAX + 4u + 1u + 1u)

/* C99 has no _Static_assert: a negative array size stops the build instead. */
typedef char board_outputs_within_sdk[(BOARD_LAW_OUTPUTS_MAX >= 1 && BOARD_LAW_OUTPUTS_MAX <= TMR_LAW_CHANNELS_MAX) ? 1 : -1];
typedef char board_implementation_fits[sizeof BOARD_IMPLEMENTATION - 1u <= IMPLEMENTATION_BYTES_MAX ? 1 : -1];
typedef char board_frames_fit[(TX_FRAME_BYTES_MAX < 254u && OUTPUT_FRAME_BYTES_MAX <= TX_FRAME_BYTES_MAX) ? 1 : -1];

board_diag_t tmr_diag;

static struct {
  uint8_t law_usable; /* the law passed its checks and self-test at boot */
  uint8_t configured;
  uint32_t law_hash;  /* this build's own self-test hash (0 if the law is not usable) */
  uint32_t last_tick; /* of the last step, or of the state transferred in; 0 after a hello */
  uint8_t any_tick_next; /* set by an accepted hello; cleared by a step or a state (PROTOCOL.md 7.3) */
  uint8_t rx_activity; /* a byte arrived since the last poll (cheaper than reading the clock per byte) */
  uint32_t last_rx_us;
  uint32_t last_heartbeat_us;
} board;

/* Receive: the current frame body, split at 0x00 (PROTOCOL.md 3.4). */
static uint8_t rx_body[BOARD_BODY_BYTES_MAX];
static uint8_t rx_length;
static uint8_t rx_discarding; /* an over-long run: drop everything up to the next 0x00 */
static uint32_t rx_frame_start_cycles;

/* Fault injection (PROTOCOL.md 13), only when the test hooks are enabled. One history entry is a
 * step's outputs (output_count of them) and, in the last word, its state digest. */
#define HISTORY_DIGEST BOARD_LAW_OUTPUTS_MAX
static struct {
  uint8_t enabled;
  uint8_t armed_kind;
  uint32_t armed_duration;
  int32_t armed_param;
  uint8_t kind; /* active fault, FAULT_NONE if none */
  int32_t param;
  uint32_t start_tick;
  uint32_t duration;
  prng_t prng;
  int32_t history[BOARD_STUCK_TICKS_BACK_MAX][BOARD_LAW_OUTPUTS_MAX + 1u]; /* the last steps */
  uint8_t history_count;                                                   /* saturates at BOARD_STUCK_TICKS_BACK_MAX */
  uint8_t history_next;
  int32_t stuck[BOARD_LAW_OUTPUTS_MAX + 1u];
} faults;

/* Outputs held back by a `late` fault, encoded into a frame when due (the same bytes as when
 * they were held: no other fault is active meanwhile). Fields, not frames: less RAM. */
static struct {
  uint8_t used;
  uint32_t due_us;
  uint32_t tick;
  uint32_t digest;
  int32_t outputs[BOARD_LAW_OUTPUTS_MAX];
} late[BOARD_LATE_SLOTS];

/* ---- sending ---------------------------------------------------------------------------- */

static uint8_t tx_frame[TX_FRAME_BYTES_MAX];
#define tx_payload (tx_frame + 1)

/* Frames the payload `tx_payload[0..length)`: CRC-32, COBS in place (the code byte goes in front),
 * delimiter. Returns the frame length. */
static uint8_t frame_payload(uint8_t length) {
  const uint32_t crc = crc32_update(0, tx_payload, length);
  for (uint8_t i = 0; i < 4; i++) tx_payload[length + i] = (uint8_t)(crc >> (8u * i));
  const uint8_t n = cobs_encode(tx_payload, (uint8_t)(length + 4u), tx_frame);
  tx_frame[n] = 0;
  return (uint8_t)(n + 1u);
}

static void send_payload(uint8_t length) { hal_send(tx_frame, frame_payload(length)); }

static uint8_t begin(uint8_t type, uint8_t fields) {
  uint8_t n = 0;
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_ARRAY, fields);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, type);
  return n;
}

static void send_error(uint8_t code, const char *detail_in_flash) {
  uint8_t n = begin(MSG_ERROR, 3);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, code);
#ifdef __AVR__
  const uint8_t detail_length = (uint8_t)strlen_P(detail_in_flash);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_TEXT, detail_length);
  memcpy_P(&tx_payload[n], detail_in_flash, detail_length);
#else
  const uint8_t detail_length = (uint8_t)strlen(detail_in_flash);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_TEXT, detail_length);
  memcpy(&tx_payload[n], detail_in_flash, detail_length);
#endif
  send_payload((uint8_t)(n + detail_length));
}

/* Error details are literals of under TEXT_BYTES_MAX bytes, in flash on the AVR. */
#ifdef __AVR__
#define SEND_ERROR(code, text) send_error((code), PSTR(text))
#else
#define SEND_ERROR(code, text) send_error((code), (text))
#endif

/* Our own identity, whatever the hello asked for: the host compares and refuses on a mismatch. */
static void send_hello_ack(uint8_t replica_index) {
  static const char implementation[] FLASH_TABLE = BOARD_IMPLEMENTATION;
  const uint8_t implementation_length = (uint8_t)(sizeof implementation - 1u);
  const uint8_t name_length = (uint8_t)strlen(tmr_law.name); /* 1..24: the declaration check */
  uint8_t n = begin(MSG_HELLO_ACK, 7);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, BOARD_PROTOCOL_VERSION);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, replica_index);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_TEXT, implementation_length);
#ifdef __AVR__
  memcpy_P(&tx_payload[n], implementation, implementation_length);
#else
  memcpy(&tx_payload[n], implementation, implementation_length);
#endif
  n = (uint8_t)(n + implementation_length);
  cbor_write_string(tx_payload, &n, CBOR_MAJOR_TEXT, (const uint8_t *)tmr_law.name, name_length);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, tmr_law.version);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, board.law_hash);
  send_payload(n);
}

static void send_heartbeat(void) {
  uint8_t n = begin(MSG_HEARTBEAT, 3);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, board.last_tick);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, tmr_law_digest(tmr_law_state()));
  send_payload(n);
}

static void send_state(void) {
  uint8_t bytes[TMR_LAW_STATE_BYTES_MAX];
  const uint8_t size = tmr_law.state_size_bytes; /* 1..64: the declaration check */
  tmr_law.serialize(tmr_law_state(), bytes);
  uint8_t n = begin(MSG_STATE, 4);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, board.last_tick);
  cbor_write_string(tx_payload, &n, CBOR_MAJOR_BYTES, bytes, size);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, crc32_update(0, bytes, size));
  send_payload(n);
}

/* Encodes an output frame into tx_frame; returns its length. */
static uint8_t encode_output(uint32_t tick, const int32_t *outputs, uint32_t digest) {
  uint8_t n = begin(MSG_OUTPUT, 4);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, tick);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_ARRAY, tmr_law.output_count);
  for (uint8_t c = 0; c < tmr_law.output_count; c++) cbor_write_int32(tx_payload, &n, outputs[c]);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, digest);
  return frame_payload(n);
}

/* ---- faults ----------------------------------------------------------------------------- */

/* stuck: the reply of `param` steps back, clamped to 1..16 and to the steps kept; zeros if none. */
static void freeze_from_history(void) {
  int32_t back = faults.param < 1 ? 1 : faults.param;
  if (back > (int32_t)BOARD_STUCK_TICKS_BACK_MAX) back = BOARD_STUCK_TICKS_BACK_MAX;
  if (back > faults.history_count) back = faults.history_count;
  if (back == 0) {
    memset(faults.stuck, 0, sizeof faults.stuck);
    return;
  }
  const uint8_t slot =
      (uint8_t)((faults.history_next + BOARD_STUCK_TICKS_BACK_MAX - (uint8_t)back) % BOARD_STUCK_TICKS_BACK_MAX);
  memcpy(faults.stuck, faults.history[slot], sizeof faults.stuck);
}

/* state: flips bit (param mod 8) of serialised byte (param + a) mod size, for the first a whose
 * result the law's deserialize() accepts (into the live state: a silent corruption). If it refuses
 * every byte, nothing changes. */
static void corrupt_state(void) {
  uint8_t bytes[TMR_LAW_STATE_BYTES_MAX];
  const uint8_t size = tmr_law.state_size_bytes;
  const uint32_t param = (uint32_t)faults.param;
  const uint8_t mask = (uint8_t)(1u << (param % 8u));
  const uint8_t first = (uint8_t)(param % size); /* (param + a) mod size without uint32 wrap-around */
  tmr_law.serialize(tmr_law_state(), bytes);
  for (uint8_t a = 0; a < size; a++) {
    const uint8_t i = (uint8_t)((first + a) % size);
    bytes[i] ^= mask;
    if (tmr_law.deserialize(tmr_law_state(), bytes) == 0) return;
    bytes[i] ^= mask;
  }
}

static void fault_before_step(uint32_t tick) {
  if (faults.armed_kind != FAULT_NONE) {
    faults.kind = faults.armed_kind;
    faults.param = faults.armed_param;
    faults.duration = faults.armed_duration;
    faults.start_tick = tick;
    faults.armed_kind = FAULT_NONE;
    prng_seed(&faults.prng, prng_derive_seed((uint32_t)faults.param, tick));
    if (faults.kind == FAULT_STUCK) freeze_from_history();
    if (faults.kind == FAULT_STATE) corrupt_state();
  } else if (faults.kind != FAULT_NONE && faults.duration > 0 && tick - faults.start_tick >= faults.duration) {
    faults.kind = FAULT_NONE;
  }
}

static void fault_record(const int32_t *outputs, uint32_t digest) {
  int32_t *entry = faults.history[faults.history_next];
  for (uint8_t c = 0; c < tmr_law.output_count; c++) entry[c] = outputs[c];
  entry[HISTORY_DIGEST] = (int32_t)digest;
  faults.history_next = (uint8_t)((faults.history_next + 1u) % BOARD_STUCK_TICKS_BACK_MAX);
  if (faults.history_count < BOARD_STUCK_TICKS_BACK_MAX) faults.history_count++;
}

/* wrong: output 0 moved by param, wrapped into its declared range:
 * min + ((v - min + param) mod span), span = max - min + 1 (a one-value channel stays). |v - min|
 * < 2^32 and |param| <= 2^31, so the sum fits an int64. */
static int32_t wrong_output(int32_t value) {
  const tmr_output_t *channel = &tmr_law.outputs[0];
  const int64_t span = (int64_t)channel->max - channel->min + 1;
  int64_t offset = ((int64_t)value - channel->min + faults.param) % span;
  if (offset < 0) offset += span;
  return (int32_t)(channel->min + offset);
}

/* 8..64 seeded bytes ending in a delimiter, as the Node replica's garbage(). */
static void send_babble(void) {
  const uint8_t n = (uint8_t)(8u + prng_next_below(&faults.prng, BOARD_BABBLE_BYTES_MAX - 7u));
  for (uint8_t i = 0; i + 1u < n; i++) {
    const uint8_t byte = (uint8_t)prng_next_below(&faults.prng, 256);
    hal_send(&byte, 1);
  }
  static const uint8_t delimiter = 0;
  hal_send(&delimiter, 1);
}

static void hold_back(uint32_t tick, const int32_t *outputs, uint32_t digest) {
  int32_t delay_us = faults.param < 1 ? 1 : faults.param;
  if ((uint32_t)delay_us > BOARD_LATE_DELAY_US_MAX) delay_us = (int32_t)BOARD_LATE_DELAY_US_MAX;
  for (uint8_t i = 0; i < BOARD_LATE_SLOTS; i++) {
    if (late[i].used) continue;
    late[i].used = 1;
    late[i].due_us = hal_now_us() + (uint32_t)delay_us;
    late[i].tick = tick;
    late[i].digest = digest;
    memcpy(late[i].outputs, outputs, sizeof late[i].outputs);
    return;
  }
  /* every slot holds an older output: this one is lost, which a late replica may do */
}

/* ---- messages --------------------------------------------------------------------------- */

/* Whether a hello names this build's law: name, version and channel counts. */
static int law_named(const uint8_t *name, uint8_t name_length, uint32_t version, uint32_t input_count,
                     uint32_t output_count) {
  return name_length == strlen(tmr_law.name) && memcmp(name, tmr_law.name, name_length) == 0 &&
         version == tmr_law.version && input_count == tmr_law.input_count && output_count == tmr_law.output_count;
}

/* PROTOCOL.md v3's hello rules, in order: protocol version and law identity (answered with our
 * own, unconfigured), parameters (BAD_LAW_PARAMS, unconfigured), then configured from init(). */
static void on_hello(cbor_reader_t *r) {
  uint32_t version, index, law_version, input_count, output_count, law_hash;
  const uint8_t *name = 0;
  uint8_t name_length = 0, count;
  int32_t params[TMR_LAW_PARAMS_MAX];
  if (!cbor_read_uint(r, 0xffffu, &version) || !cbor_read_uint(r, 15u, &index) ||
      !cbor_read_string(r, CBOR_MAJOR_TEXT, TMR_LAW_NAME_CHARS_MAX, &name, &name_length) || name_length == 0 ||
      !cbor_read_uint(r, 0xffffu, &law_version) || !cbor_read_uint(r, TMR_LAW_CHANNELS_MAX, &input_count) ||
      input_count == 0 || !cbor_read_uint(r, TMR_LAW_CHANNELS_MAX, &output_count) || output_count == 0 ||
      !cbor_read_uint(r, 0xffffffffu, &law_hash) || !cbor_read_array(r, &count) || count > TMR_LAW_PARAMS_MAX) {
    goto refused;
  }
  for (uint8_t i = 0; i < count; i++)
    if (!cbor_read_int32(r, &params[i])) goto refused;
  if (!cbor_at_end(r)) goto refused;
  tmr_diag.frames_accepted++;
  (void)law_hash; /* the host's expectation: the host compares it with ours */
  board.configured = 0;
  if (version != BOARD_PROTOCOL_VERSION || !board.law_usable ||
      !law_named(name, name_length, law_version, input_count, output_count)) {
    send_hello_ack((uint8_t)index);
    return;
  }
  if (count != tmr_law.param_count || tmr_law_state_init(params, 0) != TMR_LAW_OK) {
    SEND_ERROR(ERR_BAD_LAW_PARAMS, "law params rejected");
    return;
  }
  board.configured = 1;
  board.last_tick = 0;
  board.any_tick_next = 1;
  faults.kind = FAULT_NONE;
  faults.armed_kind = FAULT_NONE;
  send_hello_ack((uint8_t)index);
  return;
refused:
  tmr_diag.frames_refused++;
}

static void on_tick(uint32_t tick, const int32_t *inputs, uint8_t count) {
  if (!board.configured) {
    SEND_ERROR(ERR_NOT_CONFIGURED, "tick before hello");
    return;
  }
  if (faults.enabled) fault_before_step(tick);
  /* Only the tick after the last one: a board that lost a tick must not vote with its state. */
  if (!board.any_tick_next && tick != board.last_tick + 1u) {
    SEND_ERROR(ERR_TICK_GAP, "tick gap");
    return;
  }
  if (count != tmr_law.input_count || tmr_law_first_input_out_of_range(inputs) >= 0) {
    SEND_ERROR(ERR_INPUT_OUT_OF_RANGE, "tick inputs out of range");
    return;
  }
  int32_t outputs[BOARD_LAW_OUTPUTS_MAX];
  memset(outputs, 0, sizeof outputs); /* as the TypeScript runtime: an output a law forgets reads 0 */
  tmr_law.step(tmr_law_state(), inputs, outputs);
  board.last_tick = tick;
  board.any_tick_next = 0;
  uint32_t digest = tmr_law_digest(tmr_law_state());
  tmr_diag.ticks_stepped++;
  if (faults.enabled) {
    fault_record(outputs, digest);
    switch (faults.kind) {
      case FAULT_CRASH:
        hal_reboot();
        return;
      case FAULT_HANG:
        return;
      case FAULT_BABBLE:
        send_babble();
        return;
      case FAULT_WRONG:
        outputs[0] = wrong_output(outputs[0]);
        break;
      case FAULT_STUCK:
        memcpy(outputs, faults.stuck, sizeof outputs);
        digest = (uint32_t)faults.stuck[HISTORY_DIGEST];
        break;
      default:
        break;
    }
  }
  if (faults.enabled && faults.kind == FAULT_LATE) {
    hold_back(tick, outputs, digest);
    return;
  }
  const uint8_t length = encode_output(tick, outputs, digest);
  if (faults.enabled && faults.kind == FAULT_BITFLIP) {
    const uint32_t bit = prng_next_below(&faults.prng, (uint32_t)(length - 1u) * 8u);
    tx_frame[bit >> 3] ^= (uint8_t)(1u << (bit & 7u));
  }
  hal_send(tx_frame, length);
  const uint32_t cycles = hal_cycles() - rx_frame_start_cycles;
  tmr_diag.tick_cycles_last = cycles;
  if (cycles > tmr_diag.tick_cycles_max) tmr_diag.tick_cycles_max = cycles;
}

/* A state from the host: exactly state_size_bytes, its CRC the digest, and accepted by the law's
 * deserialize() (which leaves the state alone when it refuses). */
static void on_state(uint32_t tick, const uint8_t *bytes, uint8_t length, uint32_t digest) {
  if (!board.configured) {
    SEND_ERROR(ERR_NOT_CONFIGURED, "state before hello");
    return;
  }
  if (length != tmr_law.state_size_bytes || crc32_update(0, bytes, length) != digest ||
      tmr_law.deserialize(tmr_law_state(), bytes) != 0) {
    SEND_ERROR(ERR_BAD_STATE, "bad state");
    return;
  }
  board.last_tick = tick;
  board.any_tick_next = 0;
  send_heartbeat();
}

static void on_inject(uint32_t kind, uint32_t duration, int32_t param) {
  if (!faults.enabled || kind == FAULT_NONE || kind >= FAULT_KIND_COUNT) {
    if (faults.enabled) SEND_ERROR(ERR_UNEXPECTED_MESSAGE, "unknown fault");
    else SEND_ERROR(ERR_UNEXPECTED_MESSAGE, "test hooks disabled");
    return;
  }
  faults.armed_kind = (uint8_t)kind;
  faults.armed_duration = duration;
  faults.armed_param = param;
}

/* An array of 1..TMR_LAW_CHANNELS_MAX int32 (tick inputs, received outputs) into values[]. */
static int read_int32_list(cbor_reader_t *r, int32_t *values, uint8_t *count) {
  if (!cbor_read_array(r, count) || *count < 1u || *count > TMR_LAW_CHANNELS_MAX) return 0;
  for (uint8_t i = 0; i < *count; i++)
    if (!cbor_read_int32(r, &values[i])) return 0;
  return 1;
}

/* Decodes and checks one payload against the CBOR subset and the schema, then acts on it.
 * Anything outside them is refused: counted, never answered. */
static void on_payload(const uint8_t *payload, uint8_t length) {
  cbor_reader_t r = {payload, payload + length};
  uint8_t count;
  uint32_t type;
  if (!cbor_read_array(&r, &count) || !cbor_read_uint(&r, 0xffffffffu, &type) || type >= MSG_TYPE_COUNT ||
      count != FLASH_READ_U8(&FIELD_COUNT[type])) {
    tmr_diag.frames_refused++;
    return;
  }
  if (type == MSG_HELLO) {
    on_hello(&r);
    return;
  }
  uint32_t a = 0, b = 0, c = 0;
  int32_t x = 0;
  int32_t values[TMR_LAW_CHANNELS_MAX];
  const uint8_t *bytes = 0;
  uint8_t n = 0, items = 0;
  int ok = 0;
  switch (type) {
    case MSG_HELLO_ACK:
      ok = cbor_read_uint(&r, 0xffffu, &a) && cbor_read_uint(&r, 15u, &b) &&
           cbor_read_string(&r, CBOR_MAJOR_TEXT, IMPLEMENTATION_BYTES_MAX, &bytes, &n) &&
           cbor_read_string(&r, CBOR_MAJOR_TEXT, TMR_LAW_NAME_CHARS_MAX, &bytes, &n) &&
           cbor_read_uint(&r, 0xffffu, &c) && cbor_read_uint(&r, 0xffffffffu, &a);
      break;
    case MSG_REFUSE:
      ok = cbor_read_uint(&r, 0xffffu, &a);
      break;
    case MSG_TICK:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && read_int32_list(&r, values, &items);
      break;
    case MSG_OUTPUT:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && read_int32_list(&r, values, &items) &&
           cbor_read_uint(&r, 0xffffffffu, &b);
      break;
    case MSG_HEARTBEAT:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && cbor_read_uint(&r, 0xffffffffu, &b);
      break;
    case MSG_STATE_REQUEST:
      ok = cbor_read_uint(&r, 0xffffffffu, &a);
      break;
    case MSG_STATE:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) &&
           cbor_read_string(&r, CBOR_MAJOR_BYTES, TMR_LAW_STATE_BYTES_MAX, &bytes, &n) &&
           cbor_read_uint(&r, 0xffffffffu, &b);
      break;
    case MSG_ERROR:
      ok = cbor_read_uint(&r, 0xffffu, &a) && cbor_read_string(&r, CBOR_MAJOR_TEXT, TEXT_BYTES_MAX, &bytes, &n);
      break;
    case MSG_INJECT:
      ok = cbor_read_uint(&r, 0xffffu, &a) && cbor_read_uint(&r, 0xffffffffu, &b) && cbor_read_int32(&r, &x);
      break;
    default:
      break;
  }
  if (!ok || !cbor_at_end(&r)) {
    tmr_diag.frames_refused++;
    return;
  }
  tmr_diag.frames_accepted++;
  switch (type) {
    case MSG_REFUSE:
      board.configured = 0;
      break;
    case MSG_TICK:
      on_tick(a, values, items);
      break;
    case MSG_STATE_REQUEST:
      if (board.configured) send_state();
      else SEND_ERROR(ERR_NOT_CONFIGURED, "state request before hello");
      break;
    case MSG_STATE:
      on_state(a, bytes, n, b);
      break;
    case MSG_INJECT:
      on_inject(a, b, x);
      break;
    default: /* helloAck, output, heartbeat, error: a board never receives these */
      SEND_ERROR(ERR_UNEXPECTED_MESSAGE, "unexpected message");
      break;
  }
}

static void on_frame_body(uint8_t length) {
  if (length == 0) return; /* a lone delimiter: resynchronisation, not an error */
  const int16_t decoded = cobs_decode_in_place(rx_body, length);
  if (decoded < 5) { /* invalid COBS, or shorter than 1 payload byte + CRC */
    tmr_diag.frames_refused++;
    return;
  }
  const uint8_t payload_length = (uint8_t)(decoded - 4);
  uint32_t crc = 0;
  for (uint8_t i = 0; i < 4; i++) crc |= (uint32_t)rx_body[payload_length + i] << (8u * i);
  if (crc32_update(0, rx_body, payload_length) != crc) {
    tmr_diag.frames_refused++;
    return;
  }
  on_payload(rx_body, payload_length);
}

/* ---- entry points ------------------------------------------------------------------------ */

void board_init(uint8_t test_hooks_enabled, int law_error, uint32_t law_hash) {
  memset(&board, 0, sizeof board);
  memset(&faults, 0, sizeof faults);
  memset(late, 0, sizeof late);
  rx_length = 0;
  rx_discarding = 0;
  faults.enabled = test_hooks_enabled ? 1u : 0u;
  tmr_diag.layout_version = 1;
  tmr_diag.test_hooks = faults.enabled;
  /* The self-test checked the declaration, unless its hash was kept over a warm reset: check it
   * again (cheap), and that the fault buffers hold the law's outputs. */
  board.law_usable = law_error == TMR_LAW_OK && tmr_law_check_declaration(0) == TMR_LAW_OK &&
                     tmr_law.output_count <= BOARD_LAW_OUTPUTS_MAX;
  board.law_hash = board.law_usable ? law_hash : 0;
  board.last_rx_us = hal_now_us();
  static const uint8_t resync = 0;
  hal_send(&resync, 1); /* a lone 0x00 ends whatever noise preceded us as a frame of its own */
}

void board_rx_byte(uint8_t byte) {
  board.rx_activity = 1;
  if (byte != 0) {
    if (rx_discarding) return;
    if (rx_length == BOARD_BODY_BYTES_MAX) {
      tmr_diag.frames_overlong++;
      rx_discarding = 1;
      rx_length = 0;
      return;
    }
    rx_body[rx_length++] = byte;
    return;
  }
  if (rx_discarding) {
    rx_discarding = 0;
    return;
  }
  const uint8_t length = rx_length;
  rx_length = 0;
  rx_frame_start_cycles = hal_cycles();
  on_frame_body(length);
  tmr_diag.configured = board.configured;
}

void board_poll(void) {
  const uint32_t now = hal_now_us();
  if (board.rx_activity) {
    board.rx_activity = 0;
    board.last_rx_us = now;
  }
  for (uint8_t i = 0; i < BOARD_LATE_SLOTS; i++) {
    if (late[i].used && (int32_t)(now - late[i].due_us) >= 0) {
      late[i].used = 0;
      hal_send(tx_frame, encode_output(late[i].tick, late[i].outputs, late[i].digest));
    }
  }
  if (board.configured && now - board.last_rx_us >= BOARD_HEARTBEAT_PERIOD_US &&
      now - board.last_heartbeat_us >= BOARD_HEARTBEAT_PERIOD_US) {
    board.last_heartbeat_us = now;
    send_heartbeat();
  }
}
