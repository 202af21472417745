/*
 * Probe firmware for testing tmr-avr-sim beyond echo. UART0 single-byte commands, each answered
 * with one text line:
 *   'b' -> "boot <bootCount> mcusr <hex> magic <8 hex digits>"   (bootCount persists in EEPROM)
 *   'd' -> "deep <sp>" after using ~STACK_PROBE_BYTES of stack
 *   'w' -> "wdt" then wdt_enable(WDTO_15MS) and spin: the watchdog must reboot the MCU
 *   'c' -> "cli" then cli; sleep (simavr: cpu_Done)
 *   'x' -> "crash" then a store outside SRAM (simavr: cpu_Crashed)
 * Anything else is ignored. main sleeps when idle.
 */
#include <avr/eeprom.h>
#include <avr/sleep.h>
#include <avr/wdt.h>

#include "uart0.h"

#define MAGIC_BYTES 4u
#define BOOT_COUNT_EEPROM_ADDRESS 8u
#define STACK_PROBE_BYTES 300u
#define COMMAND_QUEUE_BYTES 16u /* power of two */

/* .noinit: written in .init3, before .init4 clears .bss. */
volatile uint8_t g_mcusrAtBoot __attribute__((section(".noinit")));
volatile uint16_t g_bootCount;
volatile uint8_t g_magic[MAGIC_BYTES];
volatile uint16_t g_rxDroppedBytes;

static volatile uint8_t command_queue[COMMAND_QUEUE_BYTES];
static volatile uint8_t command_head;
static volatile uint8_t command_tail;

/* Runs before main: a watchdog reset leaves the watchdog on, at its shortest period. */
void early_wdt_off(void) __attribute__((naked, used, section(".init3")));
void early_wdt_off(void)
{
	g_mcusrAtBoot = MCUSR;
	MCUSR = 0;
	wdt_disable();
}

ISR(USART_RX_vect)
{
	uint8_t byte = UDR0;
	uint8_t next = (uint8_t)((command_head + 1u) & (COMMAND_QUEUE_BYTES - 1u));
	if (next == command_tail) {
		g_rxDroppedBytes++;
		return;
	}
	command_queue[command_head] = byte;
	command_head = next;
}

static void put(uint8_t byte)
{
	/* Waits for ring space; bounded because the UDRE ISR drains at wire speed. */
	for (;;) {
		cli();
		uint8_t next = (uint8_t)((uart0_tx_head + 1u) & (UART0_TX_RING_BYTES - 1u));
		if (next != uart0_tx_tail) {
			uart0_put_locked(byte);
			sei();
			return;
		}
		sei();
		sleep_cpu(); /* ring full, so UDRIE is on and a UDRE interrupt will wake us */
	}
}

static void put_text(const char *text)
{
	while (*text)
		put((uint8_t)*text++);
}

static void put_hex(uint16_t value, uint8_t digits)
{
	static const char hex[] = "0123456789abcdef";
	for (int8_t shift = (int8_t)(4 * (digits - 1)); shift >= 0; shift -= 4)
		put((uint8_t)hex[(value >> shift) & 0xFu]);
}

static void flush_output(void)
{
	while (uart0_tx_tail != uart0_tx_head) { /* bounded: at most one ring at wire speed */
	}
	while (!(UCSR0A & _BV(UDRE0))) {
	}
}

/* Touches `depth` bytes of stack so that the harness's lowest-SP tracking has something to see. */
static uint16_t __attribute__((noinline)) use_stack(volatile uint8_t *sink)
{
	volatile uint8_t frame[STACK_PROBE_BYTES];
	for (uint16_t i = 0; i < STACK_PROBE_BYTES; i++)
		frame[i] = (uint8_t)i;
	*sink = frame[STACK_PROBE_BYTES - 1];
	return SP;
}

static void execute(uint8_t command)
{
	if (command == 'b') {
		put_text("boot ");
		put_hex(g_bootCount, 4);
		put_text(" mcusr ");
		put_hex(g_mcusrAtBoot, 2);
		put_text(" magic ");
		for (uint8_t i = 0; i < MAGIC_BYTES; i++)
			put_hex(g_magic[i], 2);
		put_text("\n");
	} else if (command == 'd') {
		volatile uint8_t sink;
		uint16_t sp = use_stack(&sink);
		put_text("deep ");
		put_hex(sp, 4);
		put_text("\n");
	} else if (command == 'w') {
		put_text("wdt\n");
		flush_output();
		wdt_enable(WDTO_15MS);
		for (;;) { /* the watchdog ends this */
		}
	} else if (command == 'c') {
		put_text("cli\n");
		flush_output();
		cli();
		sleep_cpu();
	} else if (command == 'x') {
		put_text("crash\n");
		flush_output();
		*(volatile uint8_t *)(RAMEND + 0x100u) = 0x55; /* outside SRAM */
	}
}

int main(void)
{
	for (uint8_t i = 0; i < MAGIC_BYTES; i++)
		g_magic[i] = eeprom_read_byte((const uint8_t *)(uintptr_t)i);
	uint16_t *boot_count_address = (uint16_t *)(uintptr_t)BOOT_COUNT_EEPROM_ADDRESS;
	uint16_t boot_count = eeprom_read_word(boot_count_address);
	boot_count = boot_count == 0xFFFFu ? 1u : (uint16_t)(boot_count + 1u);
	eeprom_write_word(boot_count_address, boot_count);
	g_bootCount = boot_count;
	uart0_init();
	set_sleep_mode(SLEEP_MODE_IDLE);
	sleep_enable();
	sei();
	for (;;) { /* the main loop: execute queued commands, sleep when none */
		cli();
		if (command_tail == command_head) {
			sei();
			sleep_cpu(); /* SEI's one-instruction delay makes sei; sleep race-free */
			continue;
		}
		uint8_t command = command_queue[command_tail];
		command_tail = (uint8_t)((command_tail + 1u) & (COMMAND_QUEUE_BYTES - 1u));
		sei();
		execute(command);
	}
}
