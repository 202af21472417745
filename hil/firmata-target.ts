/**
 * A Firmata board on a serial port, as typed: `PATH` or `PATH@BAUD` (`tmr run --actuator
 * firmata:…`, `tmr hil --firmata …`): the same reader as `--io firmata:…` (src/io/firmata-io.ts),
 * which does not load johnny-five.
 */
export { FIRMATA_BAUD_DEFAULT, parseFirmataPort as parseFirmataTarget, type FirmataPort as FirmataTarget } from '../src/io/firmata-io.js';
