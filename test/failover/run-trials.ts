/**
 * `npm run test:failover [-- --trials N] [-- --seed S --fault KIND] [-- --loopback] [-- --keep DIR]
 * [-- --rate-hz R] [-- --io SCHEME [--io-map FILE]]`: the seeded failover trials (trials.ts); --keep
 * keeps each trial's actuator log and process output; --io puts real I/O behind the actuator
 * (`--io firmata-sim`: the simulated Firmata board). One line per trial on stderr, with the command that replays it;
 * then one JSON line on stdout: trials, violations (the checker's findings over the actuator's
 * log, unsafe commands, a fault no standby took over from; 0 when all is well), takeoverTicksMax,
 * the claims beyond safety that were missed (a gap past the actuator's watchdog, a takeover with
 * the primary alive, a former primary that did not step down) and per-fault figures. Exit 1 if a
 * violation was found.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, RATE_HZ, TrialBench, type TrialFault, type TrialOptions, type TrialResult } from './trials.js';

const TRIALS_DEFAULT = 56;

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { trials: { type: 'string' }, seed: { type: 'string' }, fault: { type: 'string' }, loopback: { type: 'boolean' }, keep: { type: 'string' }, 'rate-hz': { type: 'string' }, io: { type: 'string' }, 'io-map': { type: 'string' } }, strict: true });
  const trials = values.trials === undefined ? TRIALS_DEFAULT : Number(values.trials);
  if (!(Number.isInteger(trials) && trials >= 1 && trials <= 10_000)) throw new Error(`--trials ${values.trials}: 1..10000`);
  if (values.fault !== undefined && !(FAULT_KINDS as readonly string[]).includes(values.fault)) throw new Error(`--fault ${values.fault}: one of ${FAULT_KINDS.join(', ')}`);
  const rateHz = values['rate-hz'] === undefined ? RATE_HZ : Number(values['rate-hz']);
  if (!(Number.isInteger(rateHz) && rateHz >= 10 && rateHz <= 1000)) throw new Error(`--rate-hz ${values['rate-hz']}: 10..1000`);
  if (values['io-map'] !== undefined && values.io === undefined) throw new Error('--io-map needs --io');
  const trialOptions: TrialOptions = {
    ...(values['rate-hz'] === undefined ? {} : { rateHz }),
    ...(values.io === undefined ? {} : { io: { scheme: values.io, ...(values['io-map'] === undefined ? {} : { mapPath: values['io-map'] }) } }),
  };
  const bench = await TrialBench.start({ loopback: values.loopback === true, ...(values.keep === undefined ? {} : { keepIn: values.keep }) });
  const results: TrialResult[] = [];
  const startedMs = Date.now();
  try {
    const kinds = bench.kinds;
    if (bench.hosts.kind === 'loopback') process.stderr.write(`failover trials on loopback (no network namespaces here): ${FAULT_KINDS.filter((k) => !kinds.includes(k)).join(', ')} left out\n`);
    const plan: { seed: number; fault: TrialFault }[] =
      values.seed !== undefined ? [{ seed: Number(values.seed), fault: (values.fault as TrialFault | undefined) ?? kinds[(Number(values.seed) - 1) % kinds.length]! }] : Array.from({ length: trials }, (_, i) => ({ seed: i + 1, fault: (values.fault as TrialFault | undefined) ?? kinds[i % kinds.length]! }));
    for (const { seed, fault } of plan) {
      const result = await bench.runTrial(seed, fault, trialOptions);
      results.push(result);
      const a = result.actuator;
      process.stderr.write(
        `trial ${seed} ${fault}: ${result.violations.length === 0 ? 'ok' : `VIOLATIONS: ${result.violations.join('; ')}`}${result.claims.length === 0 ? '' : ` (claims missed: ${result.claims.join('; ')})`}; takeover ${result.takeoverTicks ?? '-'} ticks, ${a.applied} applied, ${a.refusedStale} refused stale (${result.staleRefused} after the takeover), longest gap ${a.longestGapTicks}, unsafe ${a.unsafeCommands}, late actuator ticks ${a.lateTicks}${a.io === null ? '' : `; io ${a.io.sensorSamples} samples, ${a.io.actuatorWrites} writes${a.inputFault === null ? '' : `, stopped safe on ${a.inputFault.reason} (${a.inputFault.channel})`}`}${result.violations.length > 0 ? `; replay: ${result.replay}` : ''}\n`,
      );
    }
  } finally {
    await bench.stop();
  }
  const byFault: Record<string, { trials: number; takeoverTicksMedian: number | null; takeoverTicksWorst: number | null; staleRefused: number }> = {};
  for (const kind of FAULT_KINDS) {
    const of = results.filter((r) => r.fault === kind);
    if (of.length === 0) continue;
    const takeovers = of.flatMap((r) => (r.takeoverTicks === null ? [] : [r.takeoverTicks]));
    byFault[kind] = { trials: of.length, takeoverTicksMedian: median(takeovers), takeoverTicksWorst: takeovers.length === 0 ? null : Math.max(...takeovers), staleRefused: of.reduce((n, r) => n + r.staleRefused, 0) };
  }
  const violations = results.reduce((n, r) => n + r.violations.length, 0);
  const takeovers = results.flatMap((r) => (r.takeoverTicks === null ? [] : [r.takeoverTicks]));
  const line = {
    trials: results.length,
    violations,
    takeoverTicksMax: takeovers.length === 0 ? null : Math.max(...takeovers),
    hosts: bench.hosts.kind,
    rateHz,
    io: values.io ?? null,
    unsafeCommands: results.reduce((n, r) => n + r.actuator.unsafeCommands, 0),
    claimsMissed: results.reduce((n, r) => n + r.claims.length, 0),
    longestGapTicksMax: Math.max(0, ...results.map((r) => r.actuator.longestGapTicks)),
    byFault,
    failed: results.filter((r) => r.violations.length + r.claims.length > 0).map((r) => ({ seed: r.seed, fault: r.fault, violations: r.violations, claims: r.claims, replay: r.replay })),
    durationS: Math.round((Date.now() - startedMs) / 1000),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return violations === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`test:failover: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
