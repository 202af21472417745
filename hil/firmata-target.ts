/**
 * A Firmata board on a serial port, as typed: `PATH` or `PATH@BAUD` (`tmr run --actuator
 * firmata:…`, `tmr hil --firmata …`). Kept apart from actuator-path.ts so that reading it does
 * not load johnny-five.
 */
import { UsageError } from '../src/config/fields.js';

export interface FirmataTarget {
  readonly path: string;
  readonly baudRate: number;
}

/** StandardFirmata's baud rate. */
export const FIRMATA_BAUD_DEFAULT = 57_600;

/** Parses `PATH[@BAUD]` for `label` (a flag), or throws a UsageError naming it. */
export function parseFirmataTarget(text: string, label: string): FirmataTarget {
  const match = /^([^@]+)(?:@(\d+))?$/.exec(text);
  if (match === null) throw new UsageError(`${label} '${text}': expected PATH or PATH@BAUD`);
  const baudRate = match[2] === undefined ? FIRMATA_BAUD_DEFAULT : Number(match[2]);
  if (!(baudRate >= 300 && baudRate <= 2_000_000)) throw new UsageError(`${label} '${text}': baud rate must be 300..2000000`);
  return { path: match[1]!, baudRate };
}
