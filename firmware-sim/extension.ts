/**
 * What firmware-sim/ adds to the `tmr` command: the replica kinds `sim-board` (a simulated board
 * on a pseudo-terminal) and `avr-sim` (our Uno firmware in the AVR emulator), their settings as
 * `--replica KIND:key=value,…` and as config-file objects. bin/tmr.ts registers it; src/ never
 * imports firmware-sim/. The providers (pseudo-terminals, socat, the emulator) load only when a
 * run has one of these replicas.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../src/config/fields.js';
import { BAUD_RATE_MAX, BAUD_RATE_MIN, defineExtension, type IoExtension, type ReplicaKindExtension, type ReplicaSettingsSource } from '../src/cli/extensions.js';
import { setpointFor } from '../src/io/firmata-io.js';
import { SHIPPED_LAWS } from '../src/law/law-loader.js';
import type { ReplicaSpec } from '../src/runtime/replica-kinds.js';
import type { AvrSimSpec, SimBoardSpec } from './replica-kinds.js';

const NOISE_DIRECTIONS = ['both', 'to-host', 'to-board'] as const;
const FLOODS = ['garbage', 'max-frames'] as const;

/** The settings arrive typed (src/cli/extensions.ts reads them as the kind declares): only their absence is left to handle. */
function simBoardSpec(settings: Readonly<Record<string, unknown>>): ReplicaSpec {
  const spec: SimBoardSpec = { kind: 'sim-board', ...(settings as Omit<SimBoardSpec, 'kind'>) };
  return spec;
}

/** The Uno firmware images the board profile lists (boards/uno/profile.json). */
const AVR_SIM_BAUD_RATES = [115_200, 1_000_000];

function avrSimSpec(settings: Readonly<Record<string, unknown>>, { label }: ReplicaSettingsSource): ReplicaSpec {
  const { baudRate, testHooks, law } = settings as Omit<AvrSimSpec, 'kind'>;
  if (baudRate !== undefined && !AVR_SIM_BAUD_RATES.includes(baudRate)) throw new UsageError(`${label}: the Uno firmware is built for ${AVR_SIM_BAUD_RATES.join(' or ')} baud, got ${baudRate}`);
  const spec: AvrSimSpec = {
    kind: 'avr-sim',
    ...(baudRate === undefined ? {} : { baudRate }),
    ...(testHooks === undefined ? {} : { testHooks }),
    ...(law === undefined ? {} : { law }),
  };
  return spec;
}

export const simBoardKind: ReplicaKindExtension = {
  kind: 'sim-board',
  usage: 'sim-board',
  help: {
    syntax: 'sim-board[:OPTS]',
    lines: [
      'a simulated board on a pseudo-terminal;',
      'OPTS: boot-noise=0, law-hash=N,',
      'protocol-version=N, ber=X (line noise),',
      'noise=both|to-host|to-board,',
      'flood=garbage|max-frames (a broken board),',
      'flood-after-ms=N (it breaks mid-run)',
    ],
  },
  settings: [
    { key: 'boot-noise', field: 'bootNoise', type: 'boolean' },
    { key: 'law-hash', field: 'lawHash', type: 'whole', min: 0, max: 0xffff_ffff },
    { key: 'protocol-version', field: 'protocolVersion', type: 'whole', min: 0, max: 0xffff },
    { key: 'ber', field: 'bitErrorRate', type: 'decimal', min: 0, max: 0.1 },
    { key: 'noise', field: 'noiseDirection', type: 'text', choices: NOISE_DIRECTIONS },
    { key: 'flood', field: 'flood', type: 'text', choices: FLOODS },
    { key: 'flood-after-ms', field: 'floodAfterMs', type: 'whole', min: 0, max: 3_600_000 },
  ],
  spec: simBoardSpec,
  provider: async () => (await import('./replica-kinds.js')).simBoardProvider,
};

export const avrSimKind: ReplicaKindExtension = {
  kind: 'avr-sim',
  usage: 'avr-sim',
  help: {
    syntax: 'avr-sim[:OPTS]',
    lines: [
      'our Uno firmware in the AVR emulator on a',
      'pseudo-terminal; OPTS: baud=1000000|115200,',
      'hooks=0 (fault injection off, as shipped),',
      "law=NAME (a shipped law; default: the run's)",
    ],
  },
  settings: [
    { key: 'baud', field: 'baudRate', type: 'whole', min: BAUD_RATE_MIN, max: BAUD_RATE_MAX },
    { key: 'hooks', field: 'testHooks', type: 'boolean' },
    // The firmware is built for one shipped law (boards/uno, LAW=src/laws/NAME/law.c); absent: the run's law.
    { key: 'law', field: 'law', type: 'text', choices: SHIPPED_LAWS },
  ],
  spec: avrSimSpec,
  provider: async () => (await import('./replica-kinds.js')).avrSimProvider,
};

/** The I/O maps shipped for the bench recipe (boards/firmata): the simulated board is wired as they say. */
const FIRMATA_MAPS_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../boards/firmata/' : '../boards/firmata/', import.meta.url));
/** The plants the simulated Firmata board runs. */
export const FIRMATA_SIM_PLANTS: readonly string[] = ['motor', 'tank'];
/**
 * The simulated board's drive dead-man, ms without a heartbeat edge, as `--io firmata-sim` and the
 * HIL bench's io scenarios start it (the board's own default is 50 ms).
 */
export const SIM_BOARD_DEAD_MAN_MS = 250;

/**
 * `--io firmata-sim`: the loop closes through a simulated Firmata plant board (firmata-plant.ts)
 * on a pseudo-terminal, exactly as through a real one (`--io firmata:PATH`): johnny-five on the
 * host, Firmata bytes both ways, the plant on the board's own clock.
 */
export const firmataSimIo: IoExtension<null> = {
  scheme: 'firmata-sim',
  usage: 'firmata-sim',
  help: [
    'close the loop through a simulated Firmata board on a pseudo-terminal',
    'that runs the plant (motor or tank) on its own clock, wired as the',
    'shipped I/O map boards/firmata/PLANT-io.json (or --io-map FILE) says',
  ],
  parse(text, label) {
    if (text !== '') throw new UsageError(`${label} 'firmata-sim:${text}': firmata-sim takes nothing after it (the board's wiring is the I/O map)`);
    return null;
  },
  defaultMapPath: (plant) => (FIRMATA_SIM_PLANTS.includes(plant) ? join(FIRMATA_MAPS_DIR, `${plant}-io.json`) : null),
  async open(_target, context) {
    if (!FIRMATA_SIM_PLANTS.includes(context.plant.name)) {
      throw new UsageError(`--io firmata-sim simulates the ${FIRMATA_SIM_PLANTS.join(' and ')} plants; plant '${context.plant.name}' needs a real board (--io firmata:PATH)`);
    }
    const { openSimFirmataWorld } = await import('./firmata-sim-world.js');
    const opened = await openSimFirmataWorld({
      plant: context.plant.name as 'motor' | 'tank',
      map: context.map,
      law: context.law,
      rateHz: context.rateHz,
      seed: context.seed,
      setpointAt: setpointFor(context),
      boardWatchdogMs: SIM_BOARD_DEAD_MAN_MS,
    });
    return {
      description: opened.description,
      world: opened.world,
      async close() {
        await opened.close();
      },
    };
  },
};

export default defineExtension({ name: 'firmware-sim', replicaKinds: [simBoardKind, avrSimKind], ios: [firmataSimIo] });
