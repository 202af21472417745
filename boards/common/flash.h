/* Constant tables in program memory. On the AVR a plain `static const` table is copied into
 * SRAM at boot (2 KB in all); PROGMEM keeps it in flash and FLASH_READ_U32 / _U8 read it back. On the
 * host (vector checks) both are ordinary C. */
#ifndef TMR_FLASH_H
#define TMR_FLASH_H
#include <stdint.h>

#ifdef __AVR__
#include <avr/pgmspace.h>
#define FLASH_TABLE PROGMEM
#define FLASH_READ_U32(address) pgm_read_dword(address)
#define FLASH_READ_U8(address) pgm_read_byte(address)
#else
#define FLASH_TABLE
#define FLASH_READ_U32(address) (*(address))
#define FLASH_READ_U8(address) (*(address))
#endif

#endif
