/* The replica's side of PROTOCOL.md (v1): frame splitting, message handling, the control law,
 * heartbeats, state transfer, and the fault-injection test hooks. Hardware-independent: the
 * platform (main.c on the ATmega328P) feeds received bytes in and provides the HAL below.
 * No dynamic allocation; every buffer is a fixed size named here. */
#ifndef TMR_BOARD_H
#define TMR_BOARD_H
#include <stdint.h>

#define BOARD_PROTOCOL_VERSION 1u
#define BOARD_IMPLEMENTATION "avr-uno/1"
#define BOARD_BODY_BYTES_MAX 245u      /* largest valid frame body (PROTOCOL.md 3.3) */
#define BOARD_HEARTBEAT_PERIOD_US 100000ul
#define BOARD_STUCK_TICKS_BACK_MAX 16u
#define BOARD_BABBLE_BYTES_MAX 64u
#define BOARD_LATE_SLOTS 4u            /* outputs held back by a `late` fault at one time */
#define BOARD_LATE_DELAY_US_MAX 10000000ul
#define BOARD_FRAME_BYTES_MAX 96u      /* largest frame the board sends (a state: 78 + 4 + 1 + 1) */

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

/* law_hash: the law's self-test hash, pid_self_test_hash(), which the caller runs or has kept (see main.c). */
void board_init(uint8_t test_hooks_enabled, uint32_t law_hash);
void board_rx_byte(uint8_t byte);
/* Time-driven work: heartbeats, held-back outputs. Call after each batch of received bytes and
 * on every timer wake-up. */
void board_poll(void);

#endif
