/* The replica's side of PROTOCOL.md (v3) for the one law the build links (`tmr_law`,
 * boards/common/tmr_law.h): frame splitting, message handling, heartbeats, state transfer, and the
 * fault-injection test hooks. Hardware-independent: the platform (main.c on the ATmega328P) feeds
 * received bytes in and provides the HAL below. No dynamic allocation; every buffer is a fixed
 * size named here or in board.c, derived from the protocol's and the SDK's limits. */
#ifndef TMR_BOARD_H
#define TMR_BOARD_H
#include <stdint.h>

#include "tmr_law.h"

#define BOARD_PROTOCOL_VERSION 3u
/* Names the board in helloAck (at most 32 bytes); a board build may set its own with -D. */
#ifndef BOARD_IMPLEMENTATION
#define BOARD_IMPLEMENTATION "avr-uno/3"
#endif
#define BOARD_HEARTBEAT_PERIOD_US 100000ul
#define BOARD_STUCK_TICKS_BACK_MAX 16u
#define BOARD_BABBLE_BYTES_MAX 64u
#define BOARD_LATE_SLOTS 4u            /* outputs held back by a `late` fault at one time */
#define BOARD_LATE_DELAY_US_MAX 10000000ul

/* Output channels the fault buffers (stuck history, held-back frames) are sized for: the SDK's
 * limit, unless the build sizes them for its one law (the Uno's Makefile passes the law's own
 * output_count, measured by tools/law_shape.c: RAM is 2 KB). board_init() refuses a law with
 * more outputs than this. */
#ifndef BOARD_LAW_OUTPUTS_MAX
#define BOARD_LAW_OUTPUTS_MAX TMR_LAW_CHANNELS_MAX
#endif

/* Largest frame body the board receives (COBS-encoded payload and CRC, no delimiter). The longest
 * message of the schema a board can be sent is a hello with a 24-byte law name and 8 parameters:
 * [0, u16, index, text(24), u16, count, count, u32, [8 x int32]] = 1 + 1 + 3 + 1 + 26 + 3 + 1 + 1 +
 * 5 + 1 + 40 = 83 payload bytes, + 4 CRC + 1 COBS code byte = 88. (Next: a state with 64 bytes,
 * 78 + 5 = 83.) A longer run without 0x00 cannot be a valid message: it is counted as over-long
 * and dropped, as every frame past PROTOCOL.md's 256-byte limit is. */
#define BOARD_BODY_BYTES_MAX (83u + 4u + 1u)

/* Counters and measurements a debugger or the emulator harness reads from RAM (symbol
 * `tmr_diag`). Little-endian, no padding on the AVR; the layout is versioned. */
typedef struct {
  uint8_t layout_version;     /* 1 */
  uint8_t test_hooks;         /* 1 if fault injection is enabled (EEPROM magic) */
  uint8_t reset_flags;        /* MCUSR at boot: 1 power-on, 2 external, 4 brown-out, 8 watchdog */
  uint8_t configured;         /* 1 after an accepted hello */
  uint32_t tick_cycles_max;   /* CPU cycles from a tick frame's delimiter to its output queued */
  uint32_t tick_cycles_last;
  uint32_t ticks_stepped;
  uint32_t frames_accepted;
  uint32_t frames_refused;    /* failed framing, CRC, CBOR subset or schema: never answered */
  uint32_t frames_overlong;   /* runs of more than BOARD_BODY_BYTES_MAX bytes without 0x00 */
  uint32_t rx_overflow_bytes; /* bytes lost because the receive ring was full */
  uint16_t stack_unused_min;  /* bytes of the stack area never written since boot */
  uint16_t boot_count;        /* not cleared by a reset (section .noinit) */
} board_diag_t;

extern board_diag_t tmr_diag;

/* HAL, implemented by the platform. */
void hal_send(const uint8_t *bytes, uint8_t length); /* queue for transmission; waits while full */
uint32_t hal_now_us(void);                           /* wrapping microsecond clock */
uint32_t hal_cycles(void);                           /* wrapping CPU cycle counter */
void hal_reboot(void);                               /* reset the MCU; never returns */

/* law_error: 0 if the law passed tmr_law_self_test() (its hash in law_hash, which the caller runs
 * or has kept: see main.c), otherwise the SDK's error. A board whose law failed answers every
 * hello with its identity and hash 0 (the host refuses it) and is never configured. */
void board_init(uint8_t test_hooks_enabled, int law_error, uint32_t law_hash);
void board_rx_byte(uint8_t byte);
/* Time-driven work: heartbeats, held-back outputs. Call after each batch of received bytes and
 * on every timer wake-up. */
void board_poll(void);

#endif
