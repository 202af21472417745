#include "board.h"

#include <string.h>

#include "cbor.h"
#include "cobs.h"
#include "crc32.h"
#include "flash.h"
#include "pid_q16.h"
#include "prng.h"

/* Message types, error codes and fault kinds of PROTOCOL.md v1. */
enum { MSG_HELLO, MSG_HELLO_ACK, MSG_REFUSE, MSG_TICK, MSG_OUTPUT, MSG_HEARTBEAT, MSG_STATE_REQUEST, MSG_STATE,
       MSG_ERROR, MSG_INJECT, MSG_TYPE_COUNT };
enum { ERR_UNEXPECTED_MESSAGE = 2, ERR_NOT_CONFIGURED = 3, ERR_INPUT_OUT_OF_RANGE = 4, ERR_BAD_STATE = 5,
       ERR_BAD_LAW_PARAMS = 6 };
enum { FAULT_NONE, FAULT_CRASH, FAULT_HANG, FAULT_WRONG, FAULT_STUCK, FAULT_LATE, FAULT_BABBLE, FAULT_STATE,
       FAULT_BITFLIP, FAULT_KIND_COUNT };

/* Elements of each message type, type number included (PROTOCOL.md 5.2). */
static const uint8_t FIELD_COUNT[MSG_TYPE_COUNT] = {5, 6, 2, 4, 4, 3, 2, 4, 3, 4};

#define PAYLOAD_BYTES_MAX 84u /* largest payload the board sends is a state: 78 bytes */
#define LAW_PARAMS_MAX 8u
#define STATE_BYTES_MAX 64u
#define TEXT_BYTES_MAX 64u

board_diag_t tmr_diag;

static struct {
  uint8_t configured;
  uint8_t replica_index;
  uint32_t law_hash;
  pid_params_t params;
  pid_state_t state;
  uint8_t rx_activity; /* a byte arrived since the last poll (cheaper than reading the clock per byte) */
  uint32_t last_rx_us;
  uint32_t last_heartbeat_us;
} board;

/* Receive: the current frame body, split at 0x00 (PROTOCOL.md 3.4). */
static uint8_t rx_body[BOARD_BODY_BYTES_MAX];
static uint8_t rx_length;
static uint8_t rx_discarding; /* an over-long run: drop everything up to the next 0x00 */
static uint32_t rx_frame_start_cycles;

/* Fault injection (PROTOCOL.md 13), only when the test hooks are enabled. */
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
  int32_t history[BOARD_STUCK_TICKS_BACK_MAX][3]; /* command, rate, digest of the last steps */
  uint8_t history_count;                          /* saturates at BOARD_STUCK_TICKS_BACK_MAX */
  uint8_t history_next;
  int32_t stuck[3];
} faults;

static struct {
  uint8_t used;
  uint32_t due_us;
  uint8_t length;
  uint8_t frame[32]; /* an output frame: at most 27 bytes */
} late[BOARD_LATE_SLOTS];

/* ---- sending ---------------------------------------------------------------------------- */

static uint8_t tx_payload[PAYLOAD_BYTES_MAX + 4];
static uint8_t tx_frame[BOARD_FRAME_BYTES_MAX];

/* Frames `tx_payload[0..length)`: CRC-32, COBS, delimiter. Returns the frame length. */
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

#ifdef __AVR__
#define SEND_ERROR(code, text) send_error((code), PSTR(text))
#else
#define SEND_ERROR(code, text) send_error((code), (text))
#endif

static void send_hello_ack(uint8_t replica_index) {
  static const char implementation[] = BOARD_IMPLEMENTATION;
  uint8_t n = begin(MSG_HELLO_ACK, 6);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, BOARD_PROTOCOL_VERSION);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, replica_index);
  cbor_write_string(tx_payload, &n, CBOR_MAJOR_TEXT, (const uint8_t *)implementation,
                    (uint8_t)(sizeof implementation - 1u));
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, PID_LAW_ID);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, board.law_hash);
  send_payload(n);
}

static void send_heartbeat(void) {
  uint8_t n = begin(MSG_HEARTBEAT, 3);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, board.state.last_tick);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, pid_digest(&board.state));
  send_payload(n);
}

static void send_state(void) {
  uint8_t bytes[PID_STATE_SIZE_BYTES];
  pid_serialize(&board.state, bytes);
  uint8_t n = begin(MSG_STATE, 4);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, board.state.last_tick);
  cbor_write_string(tx_payload, &n, CBOR_MAJOR_BYTES, bytes, PID_STATE_SIZE_BYTES);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, crc32_update(0, bytes, PID_STATE_SIZE_BYTES));
  send_payload(n);
}

/* Encodes an output frame into tx_frame; returns its length. */
static uint8_t encode_output(uint32_t tick, int32_t command, int32_t rate, uint32_t digest) {
  uint8_t n = begin(MSG_OUTPUT, 4);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, tick);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_ARRAY, 2);
  cbor_write_int32(tx_payload, &n, command);
  cbor_write_int32(tx_payload, &n, rate);
  cbor_write_head(tx_payload, &n, CBOR_MAJOR_UINT, digest);
  return frame_payload(n);
}

/* ---- faults ----------------------------------------------------------------------------- */

static void fault_before_step(uint32_t tick) {
  if (faults.armed_kind != FAULT_NONE) {
    faults.kind = faults.armed_kind;
    faults.param = faults.armed_param;
    faults.duration = faults.armed_duration;
    faults.start_tick = tick;
    faults.armed_kind = FAULT_NONE;
    prng_seed(&faults.prng, prng_derive_seed((uint32_t)faults.param, tick));
    if (faults.kind == FAULT_STUCK) {
      /* the reply of `param` steps back, clamped to 1..16 and to the steps kept; zeros if none */
      int32_t back = faults.param < 1 ? 1 : faults.param;
      if (back > (int32_t)BOARD_STUCK_TICKS_BACK_MAX) back = BOARD_STUCK_TICKS_BACK_MAX;
      if (back > faults.history_count) back = faults.history_count;
      if (back == 0) {
        memset(faults.stuck, 0, sizeof faults.stuck);
      } else {
        const uint8_t slot = (uint8_t)((faults.history_next + BOARD_STUCK_TICKS_BACK_MAX - (uint8_t)back) %
                                       BOARD_STUCK_TICKS_BACK_MAX);
        memcpy(faults.stuck, faults.history[slot], sizeof faults.stuck);
      }
    }
    if (faults.kind == FAULT_STATE && board.configured) {
      /* move the integral by param mV, kept inside +-L so the corruption stays silent */
      const int64_t limit = (int64_t)board.params.output_limit_mv * 65536;
      const int64_t offset = (int64_t)faults.param * 65536;
      int64_t integral = (int64_t)board.state.integral_q16 + offset;
      if (integral > limit || integral < -limit) integral = (int64_t)board.state.integral_q16 - offset;
      if (integral > limit) integral = limit;
      if (integral < -limit) integral = -limit;
      if (integral == board.state.integral_q16) integral += integral > 0 ? -65536 : 65536;
      board.state.integral_q16 = (int32_t)integral;
    }
  } else if (faults.kind != FAULT_NONE && faults.duration > 0 && tick - faults.start_tick >= faults.duration) {
    faults.kind = FAULT_NONE;
  }
}

static void fault_record(int32_t command, int32_t rate, uint32_t digest) {
  int32_t *slot = faults.history[faults.history_next];
  slot[0] = command;
  slot[1] = rate;
  slot[2] = (int32_t)digest;
  faults.history_next = (uint8_t)((faults.history_next + 1u) % BOARD_STUCK_TICKS_BACK_MAX);
  if (faults.history_count < BOARD_STUCK_TICKS_BACK_MAX) faults.history_count++;
}

static void send_babble(void) {
  uint8_t garbage[BOARD_BABBLE_BYTES_MAX];
  const uint8_t n = (uint8_t)(8u + prng_next_below(&faults.prng, BOARD_BABBLE_BYTES_MAX - 7u));
  for (uint8_t i = 0; i + 1u < n; i++) garbage[i] = (uint8_t)prng_next_below(&faults.prng, 256);
  garbage[n - 1u] = 0;
  hal_send(garbage, n);
}

static void hold_back(uint8_t length) {
  int32_t delay_us = faults.param < 1 ? 1 : faults.param;
  if ((uint32_t)delay_us > BOARD_LATE_DELAY_US_MAX) delay_us = (int32_t)BOARD_LATE_DELAY_US_MAX;
  for (uint8_t i = 0; i < BOARD_LATE_SLOTS; i++) {
    if (late[i].used) continue;
    late[i].used = 1;
    late[i].due_us = hal_now_us() + (uint32_t)delay_us;
    late[i].length = length;
    memcpy(late[i].frame, tx_frame, length);
    return;
  }
  /* every slot holds an older output: this one is lost, which a late replica may do */
}

/* ---- messages --------------------------------------------------------------------------- */

static void on_hello(cbor_reader_t *r) {
  uint32_t version, index, law_id;
  uint8_t count;
  int32_t values[LAW_PARAMS_MAX] = {0};
  if (!cbor_read_uint(r, 0xffffu, &version) || !cbor_read_uint(r, 15u, &index) ||
      !cbor_read_uint(r, 0xffffu, &law_id) || !cbor_read_array(r, &count) || count > LAW_PARAMS_MAX)
    goto refused;
  for (uint8_t i = 0; i < count; i++)
    if (!cbor_read_int32(r, &values[i])) goto refused;
  if (!cbor_at_end(r)) goto refused;
  tmr_diag.frames_accepted++;
  if (version != BOARD_PROTOCOL_VERSION) {
    board.configured = 0; /* answer with our own version; the host refuses us */
    send_hello_ack((uint8_t)index);
    return;
  }
  const pid_params_t params = {values[0], values[1], values[2], values[3]};
  if (law_id != PID_LAW_ID || count != 4 || !pid_params_valid(&params)) {
    SEND_ERROR(ERR_BAD_LAW_PARAMS, "unknown law or bad law params"); /* previous config stays */
    return;
  }
  board.params = params;
  board.replica_index = (uint8_t)index;
  board.configured = 1;
  pid_reset(&board.state);
  send_hello_ack((uint8_t)index);
  return;
refused:
  tmr_diag.frames_refused++;
}

static void on_tick(uint32_t tick, int32_t setpoint, int32_t position) {
  if (!board.configured) {
    SEND_ERROR(ERR_NOT_CONFIGURED, "tick before hello");
    return;
  }
  if (faults.enabled) fault_before_step(tick);
  if (!pid_position_valid(setpoint) || !pid_position_valid(position)) {
    SEND_ERROR(ERR_INPUT_OUT_OF_RANGE, "tick inputs out of range");
    return;
  }
  int32_t command, rate;
  pid_step(&board.params, &board.state, tick, setpoint, position, &command, &rate);
  uint32_t digest = pid_digest(&board.state);
  tmr_diag.ticks_stepped++;
  if (faults.enabled) {
    fault_record(command, rate, digest);
    switch (faults.kind) {
      case FAULT_CRASH:
        hal_reboot();
        return;
      case FAULT_HANG:
        return;
      case FAULT_BABBLE:
        send_babble();
        return;
      case FAULT_WRONG: {
        const int64_t shifted = (int64_t)command + faults.param;
        const int64_t limit = board.params.output_limit_mv;
        command = (shifted <= limit && shifted >= -limit) ? (int32_t)shifted : (int32_t)((int64_t)command - faults.param);
        break;
      }
      case FAULT_STUCK:
        command = faults.stuck[0];
        rate = faults.stuck[1];
        digest = (uint32_t)faults.stuck[2];
        break;
      default:
        break;
    }
  }
  const uint8_t length = encode_output(tick, command, rate, digest);
  if (faults.enabled && faults.kind == FAULT_BITFLIP) {
    const uint32_t bit = prng_next_below(&faults.prng, (uint32_t)(length - 1u) * 8u);
    tx_frame[bit >> 3] ^= (uint8_t)(1u << (bit & 7u));
  }
  if (faults.enabled && faults.kind == FAULT_LATE) {
    hold_back(length);
    return;
  }
  hal_send(tx_frame, length);
  const uint32_t cycles = hal_cycles() - rx_frame_start_cycles;
  tmr_diag.tick_cycles_last = cycles;
  if (cycles > tmr_diag.tick_cycles_max) tmr_diag.tick_cycles_max = cycles;
}

static void on_state(const uint8_t *bytes, uint8_t length, uint32_t digest) {
  if (!board.configured) {
    SEND_ERROR(ERR_NOT_CONFIGURED, "state before hello");
    return;
  }
  pid_state_t incoming;
  if (length != PID_STATE_SIZE_BYTES || pid_deserialize(bytes, &board.params, &incoming) != 0 ||
      crc32_update(0, bytes, length) != digest) {
    SEND_ERROR(ERR_BAD_STATE, "bad state");
    return;
  }
  board.state = incoming;
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

/* Decodes and checks one payload against the CBOR subset and the schema, then acts on it.
 * Anything outside them is refused: counted, never answered. */
static void on_payload(const uint8_t *payload, uint8_t length) {
  cbor_reader_t r = {payload, payload + length};
  uint8_t count;
  uint32_t type;
  if (!cbor_read_array(&r, &count) || !cbor_read_uint(&r, 0xffffffffu, &type) || type >= MSG_TYPE_COUNT ||
      count != FIELD_COUNT[type]) {
    tmr_diag.frames_refused++;
    return;
  }
  if (type == MSG_HELLO) {
    on_hello(&r);
    return;
  }
  uint32_t a = 0, b = 0, c = 0;
  int32_t x = 0, y = 0;
  const uint8_t *bytes = 0;
  uint8_t n = 0, items = 0;
  int ok = 0;
  switch (type) {
    case MSG_HELLO_ACK:
      ok = cbor_read_uint(&r, 0xffffu, &a) && cbor_read_uint(&r, 15u, &b) &&
           cbor_read_string(&r, CBOR_MAJOR_TEXT, 32u, &bytes, &n) && cbor_read_uint(&r, 0xffffu, &c) &&
           cbor_read_uint(&r, 0xffffffffu, &a);
      break;
    case MSG_REFUSE:
      ok = cbor_read_uint(&r, 0xffffu, &a);
      break;
    case MSG_TICK:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && cbor_read_int32(&r, &x) && cbor_read_int32(&r, &y);
      break;
    case MSG_OUTPUT:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && cbor_read_array(&r, &items) && items >= 1u && items <= 8u;
      for (uint8_t i = 0; ok && i < items; i++) ok = cbor_read_int32(&r, &x);
      ok = ok && cbor_read_uint(&r, 0xffffffffu, &b);
      break;
    case MSG_HEARTBEAT:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && cbor_read_uint(&r, 0xffffffffu, &b);
      break;
    case MSG_STATE_REQUEST:
      ok = cbor_read_uint(&r, 0xffffffffu, &a);
      break;
    case MSG_STATE:
      ok = cbor_read_uint(&r, 0xffffffffu, &a) && cbor_read_string(&r, CBOR_MAJOR_BYTES, STATE_BYTES_MAX, &bytes, &n) &&
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
      on_tick(a, x, y);
      break;
    case MSG_STATE_REQUEST:
      if (board.configured) send_state();
      else SEND_ERROR(ERR_NOT_CONFIGURED, "state request before hello");
      break;
    case MSG_STATE:
      on_state(bytes, n, b);
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

void board_init(uint8_t test_hooks_enabled, uint32_t law_hash) {
  memset(&board, 0, sizeof board);
  memset(&faults, 0, sizeof faults);
  memset(late, 0, sizeof late);
  rx_length = 0;
  rx_discarding = 0;
  faults.enabled = test_hooks_enabled ? 1u : 0u;
  tmr_diag.layout_version = 1;
  tmr_diag.test_hooks = faults.enabled;
  pid_reset(&board.state);
  board.law_hash = law_hash;
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
      hal_send(late[i].frame, late[i].length);
    }
  }
  if (board.configured && now - board.last_rx_us >= BOARD_HEARTBEAT_PERIOD_US &&
      now - board.last_heartbeat_us >= BOARD_HEARTBEAT_PERIOD_US) {
    board.last_heartbeat_us = now;
    send_heartbeat();
  }
}
