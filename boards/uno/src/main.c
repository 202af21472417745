/* The ATmega328P platform: UART0 with an interrupt-driven receive ring and an interrupt-driven
 * transmit ring, Timer1 as a free-running cycle counter, idle sleep, the EEPROM switch for the
 * test hooks, and reboot by watchdog. Everything protocol-related is in board.c.
 *
 * The same image runs on an Arduino Uno and, unchanged, in simavr (firmware-sim/avr): there is no
 * emulator-only code path. */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/atomic.h>

#include "board.h"
#include "law_runtime.h"

#ifndef F_CPU
#error "F_CPU must be set (16000000 on an Uno)"
#endif
#ifndef BAUD
#error "BAUD must be set by the Makefile"
#endif

/* U2X: the divisor is F_CPU / (8 * BAUD) - 1, rounded. 115200 gives 16 (117647 baud, +2.1 %,
 * matched by the Uno's 16 MHz USB bridge), 1000000 gives 1 (exact). */
#define UBRR_VALUE ((F_CPU + 4ul * BAUD) / (8ul * BAUD) - 1ul)

#define RX_RING_BYTES 256u /* index arithmetic wraps in a uint8_t */
#define TX_RING_BYTES 64u  /* an output frame (at most 59 bytes) fits; hal_send waits for room beyond */
#define STACK_PAINT 0xc5u

/* "TMRT" at EEPROM address 0 enables fault injection (PROTOCOL.md 13). A production board has
 * no magic there (erased EEPROM reads 0xff) and answers inject with UNEXPECTED_MESSAGE. */
static const uint8_t TEST_HOOKS_MAGIC[4] = {'T', 'M', 'R', 'T'};

static volatile uint8_t rx_ring[RX_RING_BYTES];
static volatile uint8_t rx_head; /* written by the ISR */
static volatile uint8_t rx_tail; /* written by the main loop */
static volatile uint32_t rx_overflow_bytes;

static volatile uint8_t tx_ring[TX_RING_BYTES];
static volatile uint8_t tx_head;
static volatile uint8_t tx_tail;

static volatile uint32_t timer1_overflows;

/* Survives a watchdog reset: counts boots since power-on. */
static uint16_t boot_count __attribute__((section(".noinit")));

/*
 * The law's self-test hash (tmr_law_self_test: 256 steps of the law, 130-150 ms on this MCU for
 * the shipped laws, most of a boot), kept over warm resets. It proves what this build's arithmetic
 * computes; a watchdog or external reset leaves the flash that computed it unchanged, so a board
 * reset to rejoin the loop answers at once. The kept value counts only for the build that computed
 * it: it is keyed by BOARD_LAW_BUILD_KEY, which the Makefile derives from the law's source and the
 * SDK's (a board re-flashed with another law, or with the law changed, and then reset by DTR runs
 * the test again). A power-on or brown-out reset always runs the test again, and so does a kept
 * value whose complement no longer matches (RAM that did not survive).
 */
#ifndef BOARD_LAW_BUILD_KEY
#define BOARD_LAW_BUILD_KEY 0ul /* unknown build: never keep the hash */
#endif
static uint32_t law_hash_key __attribute__((section(".noinit")));
static uint32_t law_hash_kept __attribute__((section(".noinit")));
static uint32_t law_hash_kept_complement __attribute__((section(".noinit")));

/* The watchdog stays on after a watchdog reset; turn it off before it bites again. */
static uint8_t reset_flags __attribute__((section(".noinit")));
void early_init(void) __attribute__((naked, used, section(".init3")));
void early_init(void) {
  reset_flags = MCUSR;
  MCUSR = 0;
  wdt_disable();
}

ISR(USART_RX_vect) {
  const uint8_t byte = UDR0;
  const uint8_t next = (uint8_t)(rx_head + 1u);
  if (next == rx_tail) {
    rx_overflow_bytes++;
    return;
  }
  rx_ring[rx_head] = byte;
  rx_head = next;
}

ISR(USART_UDRE_vect) {
  if (tx_tail == tx_head) {
    UCSR0B &= (uint8_t)~_BV(UDRIE0);
    return;
  }
  UDR0 = tx_ring[tx_tail];
  tx_tail = (uint8_t)((tx_tail + 1u) % TX_RING_BYTES);
}

ISR(TIMER1_OVF_vect) { timer1_overflows++; }

void hal_send(const uint8_t *bytes, uint8_t length) {
  for (uint8_t i = 0; i < length; i++) {
    const uint8_t next = (uint8_t)((tx_head + 1u) % TX_RING_BYTES);
    while (next == tx_tail) {
      /* full: the UDRE interrupt drains it at line speed */
    }
    tx_ring[tx_head] = bytes[i];
    tx_head = next;
    UCSR0B |= _BV(UDRIE0);
  }
}

static uint64_t cycles_now(void) {
  uint32_t high;
  uint16_t low;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    high = timer1_overflows;
    low = TCNT1;
    if ((TIFR1 & _BV(TOV1)) && low < 0x8000u) high++; /* overflowed, ISR not run yet */
  }
  return ((uint64_t)high << 16) | low;
}

uint32_t hal_cycles(void) { return (uint32_t)cycles_now(); }

uint32_t hal_now_us(void) { return (uint32_t)(cycles_now() / (F_CPU / 1000000ul)); }

void hal_reboot(void) {
  cli();
  wdt_enable(WDTO_15MS);
  for (;;) {
  }
}

/* Paints the free RAM between the end of .bss and the stack so the low-water mark can be found. */
extern uint8_t __heap_start;
static void paint_stack(void) {
  uint8_t *p = &__heap_start;
  const uint8_t *sp = (const uint8_t *)SP;
  while (p < sp - 16) *p++ = STACK_PAINT;
}

static uint16_t stack_unused(void) {
  const uint8_t *p = &__heap_start;
  uint16_t n = 0;
  while (p <= (const uint8_t *)RAMEND && *p == STACK_PAINT) {
    p++;
    n++;
  }
  return n;
}

/* 0 and the hash in *hash, or the SDK's error (the law failed its declaration check or its
 * self-test: nothing is kept). */
static int law_self_test(uint32_t *hash) {
  const uint8_t cold = (reset_flags & (_BV(PORF) | _BV(BORF))) != 0 || reset_flags == 0;
  if (!cold && BOARD_LAW_BUILD_KEY != 0ul && law_hash_key == BOARD_LAW_BUILD_KEY &&
      law_hash_kept_complement == ~law_hash_kept) {
    *hash = law_hash_kept;
    return TMR_LAW_OK;
  }
  law_hash_key = 0; /* nothing valid kept while the test runs */
  const int error = tmr_law_self_test_hash(hash); /* run the law itself: proves this build's arithmetic */
  if (error != TMR_LAW_OK) return error;
  law_hash_kept = *hash;
  law_hash_kept_complement = ~*hash;
  law_hash_key = BOARD_LAW_BUILD_KEY;
  return TMR_LAW_OK;
}

static uint8_t test_hooks_enabled(void) {
  uint8_t stored[sizeof TEST_HOOKS_MAGIC];
  eeprom_read_block(stored, (const void *)0, sizeof stored);
  for (uint8_t i = 0; i < sizeof stored; i++)
    if (stored[i] != TEST_HOOKS_MAGIC[i]) return 0;
  return 1;
}

int main(void) {
  paint_stack();
  if (reset_flags & _BV(PORF)) boot_count = 0;
  boot_count++;

  /* UART0 8N1, U2X set before UBRR (the divisor assumes it; simavr computes the rate on UBRR0L). */
  UCSR0A = _BV(U2X0);
  UBRR0H = (uint8_t)(UBRR_VALUE >> 8);
  UBRR0L = (uint8_t)UBRR_VALUE;
  UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
  UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);

  /* Timer1: normal mode, no prescaler; overflow every 65536 cycles (4.1 ms) also wakes the loop
   * for heartbeats and held-back outputs. */
  TCCR1A = 0;
  TCCR1B = _BV(CS10);
  TIMSK1 = _BV(TOIE1);

  set_sleep_mode(SLEEP_MODE_IDLE);
  sei();
  uint32_t hash = 0;
  const int law_error = law_self_test(&hash);
  board_init(test_hooks_enabled(), law_error, hash);
  tmr_diag.reset_flags = reset_flags;
  tmr_diag.boot_count = boot_count;

  uint8_t stack_check_countdown = 0;
  for (;;) {
    while (rx_tail != rx_head) {
      const uint8_t byte = rx_ring[rx_tail];
      rx_tail = (uint8_t)(rx_tail + 1u);
      board_rx_byte(byte);
    }
    board_poll();
    if (stack_check_countdown-- == 0) { /* every 256 wake-ups: about once a second when idle */
      const uint16_t unused = stack_unused();
      if (tmr_diag.stack_unused_min == 0 || unused < tmr_diag.stack_unused_min) tmr_diag.stack_unused_min = unused;
      ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { tmr_diag.rx_overflow_bytes = rx_overflow_bytes; }
    }
    /* Sleep until an interrupt unless a byte arrived meanwhile. SEI's one-instruction delay makes
     * the check-then-sleep race-free: an interrupt after the check wakes the SLEEP at once. */
    cli();
    if (rx_tail == rx_head) {
      sleep_enable();
      sei();
      sleep_cpu();
      sleep_disable();
    }
    sei();
  }
}
