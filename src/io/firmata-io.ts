/**
 * `--io firmata:PATH[@BAUD]`: the loop closes through a real Firmata board (StandardFirmata,
 * 57600 baud by default) wired as the I/O map says. Built in; johnny-five loads only when a run
 * uses it.
 */
import { UsageError } from '../config/fields.js';
import type { IoContext, IoExtension } from '../cli/extensions.js';

export interface FirmataPort {
  readonly path: string;
  readonly baudRate: number;
}

/** StandardFirmata's baud rate. */
export const FIRMATA_BAUD_DEFAULT = 57_600;

/** `PATH` or `PATH@BAUD`; a bad one is a UsageError naming `label`. */
export function parseFirmataPort(text: string, label: string): FirmataPort {
  const match = /^([^@]+)(?:@(\d+))?$/.exec(text);
  if (match === null) throw new UsageError(`${label} '${text}': expected PATH or PATH@BAUD`);
  const baudRate = match[2] === undefined ? FIRMATA_BAUD_DEFAULT : Number(match[2]);
  if (!(baudRate >= 300 && baudRate <= 2_000_000)) throw new UsageError(`${label} '${text}': baud rate must be 300..2000000`);
  return { path: match[1]!, baudRate };
}

/**
 * The setpoint an input bound to `profile` follows: the plant's profile over the run (checked to
 * exist when the map was read, src/io/open-io.ts).
 */
export function setpointFor(context: IoContext): (tick: number) => number {
  const profile = context.plant.setpointProfile?.({ rateHz: context.rateHz, seed: context.seed, ticks: context.ticks }) ?? null;
  return profile === null ? () => 0 : (tick) => profile.setpointAt(tick);
}

export const firmataIo: IoExtension<FirmataPort> = {
  scheme: 'firmata',
  usage: 'firmata:PATH[@BAUD]',
  help: [
    'close the loop through a Firmata board on PATH (StandardFirmata,',
    '57600 baud by default) with johnny-five, wired as --io-map FILE says:',
    'sensors in, the voted commands out, a heartbeat for the drive',
  ],
  parse: (text, label) => parseFirmataPort(text, label),
  async open(port, context) {
    const { FirmataWorld } = await import('./firmata-world.js');
    const world = await FirmataWorld.open({ ...port, map: context.map, law: context.law, rateHz: context.rateHz, setpointAt: setpointFor(context) });
    return { description: world.description, world, close: () => world.close() };
  },
};
