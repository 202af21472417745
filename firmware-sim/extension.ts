/**
 * What firmware-sim/ adds to the `tmr` command: the replica kinds `sim-board` (a simulated board
 * on a pseudo-terminal) and `avr-sim` (our Uno firmware in the AVR emulator), their settings as
 * `--replica KIND:key=value,…` and as config-file objects. bin/tmr.ts registers it; src/ never
 * imports firmware-sim/. The providers (pseudo-terminals, socat, the emulator) load only when a
 * run has one of these replicas.
 */
import { booleanSetting, decimalNumber, show, UsageError, wholeNumber } from '../src/config/fields.js';
import { BAUD_RATE_MAX, BAUD_RATE_MIN, defineExtension, type ReplicaKindExtension, type ReplicaSettingsSource } from '../src/cli/extensions.js';
import { isShippedLaw, SHIPPED_LAWS } from '../src/law/law-loader.js';
import type { ReplicaSpec } from '../src/runtime/replica-kinds.js';
import type { AvrSimSpec, SimBoardSpec } from './replica-kinds.js';

const NOISE_DIRECTIONS = ['both', 'to-host', 'to-board'] as const;
const FLOODS = ['garbage', 'max-frames'] as const;

function simBoardSpec(raw: Readonly<Record<string, unknown>>, { label, fromText }: ReplicaSettingsSource): ReplicaSpec {
  if (raw.noiseDirection !== undefined && !(NOISE_DIRECTIONS as readonly unknown[]).includes(raw.noiseDirection)) {
    throw new UsageError(`${label}: noise direction must be both, to-host or to-board, got ${show(raw.noiseDirection)}`);
  }
  if (raw.flood !== undefined && !(FLOODS as readonly unknown[]).includes(raw.flood)) throw new UsageError(`${label}: flood must be garbage or max-frames, got ${show(raw.flood)}`);
  const bootNoise = booleanSetting({ label: `${label}: ${fromText ? 'boot-noise' : 'bootNoise'}`, value: raw.bootNoise, fromText });
  const ber = decimalNumber({ label: `${label}: bit error rate`, value: raw.bitErrorRate, fromText }, 0, 0.1);
  const spec: SimBoardSpec = {
    kind: 'sim-board',
    ...(bootNoise === undefined ? {} : { bootNoise }),
    ...(raw.lawHash === undefined ? {} : { lawHash: wholeNumber({ label: `${label}: law hash`, value: raw.lawHash, fromText }, 0, 0, 0xffff_ffff) }),
    ...(raw.protocolVersion === undefined ? {} : { protocolVersion: wholeNumber({ label: `${label}: protocol version`, value: raw.protocolVersion, fromText }, 0, 0, 0xffff) }),
    ...(ber === undefined ? {} : { bitErrorRate: ber }),
    ...(raw.noiseDirection === undefined ? {} : { noiseDirection: raw.noiseDirection as (typeof NOISE_DIRECTIONS)[number] }),
    ...(raw.flood === undefined ? {} : { flood: raw.flood as (typeof FLOODS)[number] }),
    ...(raw.floodAfterMs === undefined ? {} : { floodAfterMs: wholeNumber({ label: `${label}: flood-after-ms`, value: raw.floodAfterMs, fromText }, 0, 0, 3_600_000) }),
  };
  return spec;
}

/** The Uno firmware images the board profile lists (boards/uno/profile.json). */
const AVR_SIM_BAUD_RATES = [115_200, 1_000_000];

function avrSimSpec(raw: Readonly<Record<string, unknown>>, { label, fromText }: ReplicaSettingsSource): ReplicaSpec {
  const testHooks = booleanSetting({ label: `${label}: ${fromText ? 'hooks' : 'testHooks'}`, value: raw.testHooks, fromText });
  // The firmware is built for one shipped law (boards/uno, LAW=src/laws/NAME/law.c); absent: the run's law.
  if (raw.law !== undefined && (typeof raw.law !== 'string' || !isShippedLaw(raw.law))) {
    throw new UsageError(`${label}: the Uno firmware is built for a shipped law (${SHIPPED_LAWS.join(', ')}), got ${show(raw.law)}`);
  }
  const baudRate = raw.baudRate === undefined ? undefined : wholeNumber({ label: `${label}: baud rate`, value: raw.baudRate, fromText }, 0, BAUD_RATE_MIN, BAUD_RATE_MAX);
  if (baudRate !== undefined && !AVR_SIM_BAUD_RATES.includes(baudRate)) {
    throw new UsageError(`${label}: the Uno firmware is built for ${AVR_SIM_BAUD_RATES.join(' or ')} baud, got ${baudRate}`);
  }
  const spec: AvrSimSpec = {
    kind: 'avr-sim',
    ...(baudRate === undefined ? {} : { baudRate }),
    ...(testHooks === undefined ? {} : { testHooks }),
    ...(raw.law === undefined ? {} : { law: raw.law as string }),
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
    { key: 'boot-noise', field: 'bootNoise' },
    { key: 'law-hash', field: 'lawHash' },
    { key: 'protocol-version', field: 'protocolVersion' },
    { key: 'ber', field: 'bitErrorRate' },
    { key: 'noise', field: 'noiseDirection' },
    { key: 'flood', field: 'flood' },
    { key: 'flood-after-ms', field: 'floodAfterMs' },
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
    { key: 'baud', field: 'baudRate' },
    { key: 'hooks', field: 'testHooks' },
    { key: 'law', field: 'law' },
  ],
  spec: avrSimSpec,
  provider: async () => (await import('./replica-kinds.js')).avrSimProvider,
};

export default defineExtension({ name: 'firmware-sim', replicaKinds: [simBoardKind, avrSimKind] });
