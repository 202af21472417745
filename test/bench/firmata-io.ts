/**
 * Real I/O's cost (issue 18): `tmr run` at 100 Hz with three Node replicas, the loop closed
 * through the simulated Firmata plant board (`--io firmata-sim`: johnny-five, Firmata bytes on a
 * pty both ways, the plant on the board's own clock) beside the same loop on the in-process plant,
 * in alternating runs so machine-load drift hits both alike. Reported:
 *
 *   - the tick's round trip on the host (inputs read → command handed to the world), p50 and p99,
 *     Firmata against in-process (the floor);
 *   - the age of the sensor sample each tick used, p50 and p99, against the map's sampling
 *     interval (the floor: a sample every interval is, on average, half an interval old at a tick
 *     that falls at random, and at most one interval old).
 *
 * Figures only (INFO rows) beside their floors; the target is that the loop holds its rate and
 * tracks (no tick overruns beyond the in-process run's, exit 0).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { infoRow, type ResultRow } from './bench-stats.js';
import { runTmrJson } from './tmr-process.js';

const RATE_HZ = 100;
const TICKS = 3_000;
const PAIRS = 2;

interface RunTiming {
  readonly tickRoundTripP50Us: number;
  readonly tickRoundTripP99Us: number;
  readonly replyP50Us: number;
  readonly tickOverruns: number;
}

interface IoRun {
  readonly timing: RunTiming;
  readonly io?: { readonly sensorSamples: number; readonly actuatorWrites: number; readonly sampleAgeMs: { readonly p50: number; readonly p99: number; readonly max: number } };
  readonly tracking: { readonly maxAbsError: number; readonly finalError: number };
}

export interface FirmataIoReport {
  readonly rateHz: number;
  readonly ticks: number;
  readonly samplingIntervalMs: number;
  readonly firmata: readonly IoRun[];
  readonly inProcess: readonly IoRun[];
}

export async function measureFirmataIo(root: string, signal: AbortSignal): Promise<FirmataIoReport> {
  const args = (io: boolean): string[] => ['run', '--law', 'pid-q16', '--rate-hz', String(RATE_HZ), '--ticks', String(TICKS), ...(io ? ['--io', 'firmata-sim'] : [])];
  const firmata: IoRun[] = [];
  const inProcess: IoRun[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    for (const io of pair % 2 === 0 ? [true, false] : [false, true]) {
      const run = await runTmrJson<IoRun>({ root, args: args(io), timeoutMs: 120_000, signal, label: io ? 'firmata io' : 'in-process plant' });
      (io ? firmata : inProcess).push(run);
    }
  }
  const map = JSON.parse(readFileSync(join(root, 'boards', 'firmata', 'motor-io.json'), 'utf8')) as { samplingIntervalMs: number };
  return { rateHz: RATE_HZ, ticks: TICKS, samplingIntervalMs: map.samplingIntervalMs, firmata, inProcess };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
};

export function firmataIoRows(report: FirmataIoReport): ResultRow[] {
  const section = `real I/O: tmr run ${report.rateHz} Hz, ${report.ticks} ticks × ${report.firmata.length} runs each, --io firmata-sim vs in-process plant`;
  const f = (pick: (r: IoRun) => number): number => median(report.firmata.map(pick));
  const p = (pick: (r: IoRun) => number): number => median(report.inProcess.map(pick));
  return [
    infoRow(section, 'tick round trip p50, Firmata (floor: in-process)', f((r) => r.timing.tickRoundTripP50Us), 'µs', p((r) => r.timing.tickRoundTripP50Us)),
    infoRow(section, 'tick round trip p99, Firmata (floor: in-process)', f((r) => r.timing.tickRoundTripP99Us), 'µs', p((r) => r.timing.tickRoundTripP99Us)),
    infoRow(section, 'tick overruns, Firmata (floor: in-process)', f((r) => r.timing.tickOverruns), 'ticks', p((r) => r.timing.tickOverruns)),
    infoRow(section, 'sensor sample age p50 (floor: half the sampling interval)', f((r) => r.io?.sampleAgeMs.p50 ?? 0), 'ms', report.samplingIntervalMs / 2),
    infoRow(section, 'sensor sample age p99 (floor: the sampling interval)', f((r) => r.io?.sampleAgeMs.p99 ?? 0), 'ms', report.samplingIntervalMs),
    infoRow(section, 'sensor samples per tick', f((r) => (r.io?.sensorSamples ?? 0) / report.ticks), 'samples', 1000 / report.rateHz / report.samplingIntervalMs),
    infoRow(section, 'tracking max |error|, Firmata (floor: in-process)', f((r) => r.tracking.maxAbsError), 'mdeg', p((r) => r.tracking.maxAbsError)),
  ];
}
