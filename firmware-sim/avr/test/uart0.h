/*
 * Interrupt-driven UART0 for the harness test firmware (ATmega328P). Receive ISR queues bytes
 * for main; transmit uses the UDRE interrupt and a bounded ring. Only for testing tmr-avr-sim.
 */
#ifndef UART0_H
#define UART0_H

#include <avr/interrupt.h>
#include <avr/io.h>
#include <stdint.h>

#ifndef BAUD
#define BAUD 1000000UL
#endif
/* Double speed (U2X0): UBRR = F_CPU / (8 * BAUD) - 1, rounded. 1 Mbaud -> 1, 115200 -> 16. */
#define UART0_UBRR ((F_CPU + 4UL * (BAUD)) / (8UL * (BAUD)) - 1UL)

#define UART0_TX_RING_BYTES 64u /* power of two */

static volatile uint8_t uart0_tx_ring[UART0_TX_RING_BYTES];
static volatile uint8_t uart0_tx_head; /* written by main and the RX ISR, with interrupts off */
static volatile uint8_t uart0_tx_tail; /* written by the UDRE ISR */
volatile uint16_t g_txDroppedBytes;    /* echo bytes lost to a full ring (peek it) */

static void uart0_init(void)
{
	/* U2X first: simavr computes the baud rate when UBRR0L is written. */
	UCSR0A = _BV(U2X0);
	UBRR0H = (uint8_t)(UART0_UBRR >> 8);
	UBRR0L = (uint8_t)UART0_UBRR;
	UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
	UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
}

/* Call with interrupts disabled (from an ISR, or inside cli/sei). */
static void uart0_put_locked(uint8_t byte)
{
	uint8_t next = (uint8_t)((uart0_tx_head + 1u) & (UART0_TX_RING_BYTES - 1u));
	if (next == uart0_tx_tail) {
		g_txDroppedBytes++;
		return;
	}
	uart0_tx_ring[uart0_tx_head] = byte;
	uart0_tx_head = next;
	UCSR0B |= _BV(UDRIE0);
}

ISR(USART_UDRE_vect)
{
	if (uart0_tx_tail == uart0_tx_head) {
		UCSR0B &= (uint8_t)~_BV(UDRIE0);
		return;
	}
	UDR0 = uart0_tx_ring[uart0_tx_tail];
	uart0_tx_tail = (uint8_t)((uart0_tx_tail + 1u) & (UART0_TX_RING_BYTES - 1u));
}

#endif
