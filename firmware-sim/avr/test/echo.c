/*
 * UART echo firmware for testing tmr-avr-sim: every byte received on UART0 is sent back, from
 * interrupts only; main sleeps (SLEEP_MODE_IDLE) whenever idle. Build with -DBAUD=<bits/s>.
 * At boot it copies the first EEPROM bytes into g_eepromHead so the harness test can `peek` them.
 */
#include <avr/eeprom.h>
#include <avr/sleep.h>

#include "uart0.h"

#define EEPROM_HEAD_BYTES 4u

volatile uint8_t g_eepromHead[EEPROM_HEAD_BYTES];
volatile uint16_t g_bootCount; /* 1 after every boot: simavr clears SRAM on reset */

ISR(USART_RX_vect)
{
	uart0_put_locked(UDR0); /* an ISR runs with interrupts off */
}

int main(void)
{
	for (uint8_t i = 0; i < EEPROM_HEAD_BYTES; i++)
		g_eepromHead[i] = eeprom_read_byte((const uint8_t *)(uintptr_t)i);
	g_bootCount++;
	uart0_init();
	set_sleep_mode(SLEEP_MODE_IDLE);
	sei();
	for (;;) { /* all work happens in the ISRs */
		sleep_mode();
	}
}
