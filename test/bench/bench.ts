/**
 * `npm run bench`: speed targets, each measured side by side with its floor in one run.
 *
 *   1. TMR tick round trip vs a bare three-child echo, unpaced and paced at 1 kHz, interleaved
 *      in alternating blocks so machine-load drift hits both alike. Target: TMR p50 ≤ 1.3× floor.
 *   2. Deterministic simulation speed, 1,000,000 ticks. Target: ≥ 200,000 ticks/s.
 *   3. The pure core over 1,000,000 ticks: heap growth after GC (target < 1 byte/tick; runs in a
 *      child started with --expose-gc) and the voter step's cost for N = 3, 5, 7, 9.
 *   4. Where the TMR round trip's extra time goes, per tick, measured in-process.
 *   5. TMR tick round trip over three simulated boards on ptys vs a bare pty echo, unpaced and
 *      paced at 100 Hz with deadline misses (board-round-trip.ts). Target: TMR p50 ≤ 1.5× floor.
 *   6. Bytes on the wire per tick per replica, both ways, vs the same fields in fixed-width binary.
 *   7. Recovery time: a replica's crash to its first counted vote again (restart, state transfer,
 *      probation), 21 crashes each over 3 Node replicas at 200 Hz and 3 emulated Unos at 100 Hz
 *      (recovery-time.ts). Targets: ≤ 250 ms + probation (Node), ≤ 100 ms + probation (Uno).
 *   8. The highest tick rate `tmr run` sustains with < 1 miss in 10,000 ticks vs three bare
 *      echoes paced the same way (rate-sweep.ts).
 *   9. Detection latency per fault kind, `tmr run` vs the simulator (detection-latency.ts).
 *  10. The whole simulated loop over 2,000,000 ticks: heap growth and GC pauses (core-probe.ts);
 *      a fault campaign's throughput on every core.
 *  11. The black box at 10,000,000 ticks: `tmr log` and `tmr replay` peak RSS (target ≤ 200 MB)
 *      and wall time beside `cat` of the same file (black-box-scale.ts).
 *  12. Real I/O: `tmr run --io firmata-sim` at 100 Hz beside the in-process plant: the tick's
 *      round trip, and the sensor sample's age at the tick against the sampling interval
 *      (firmata-io.ts).
 *  13. Replicas over authenticated TCP between network namespaces: the tick's round trip with
 *      three `tcp:` replicas beside a bare TCP echo over the same veth bridge (tcp-link.ts).
 *  14. Takeover by an etcd lease alone (the floor for redundant voters): ticks at 200 Hz from a
 *      leader's death to the standby's election, and the dead leader's fence deadline ahead of
 *      it (lease-takeover.ts).
 *  15. Redundant voters' takeover at the actuator for a killed, a stopped and a partitioned
 *      primary, and a killed one with the simulated Firmata board behind the actuator, beside
 *      that floor, and what the checker finds in the actuator's log (failover-takeover.ts).
 *
 * Prints one table (and writes it as JSON to $BENCH_OUT, else dist/bench-results.json). A MISS is
 * information: the exit code is 0 unless something failed. Every process started here is stopped
 * by PID in a finally block.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { encodeMessage } from '../../src/protocol/codec.js';
import type { TickMessage } from '../../src/protocol/messages.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { DEFAULT_LOOP_OPTIONS, shippedPlantFor } from '../../src/sim/plants.js';
import { checkLawPair, CHECK_STEPS_DEFAULT } from '../../src/law/law-check.js';
import { shippedLawSources } from '../../src/law/law-loader.js';
import { runScenario } from '../../hil/bench.js';
import { parseScenario } from '../../hil/scenario.js';
import type { ChildProcessTransport } from '../../src/transport/child-process-transport.js';
import { blackBoxScaleRows, measureBlackBoxScale } from './black-box-scale.js';
import { firmataIoRows, measureFirmataIo } from './firmata-io.js';
import { measureTcpLink, tcpLinkRows } from './tcp-link.js';
import { leaseTakeoverRows, measureLeaseTakeover } from './lease-takeover.js';
import { failoverTakeoverRows, measureFailoverTakeover } from './failover-takeover.js';
import { BOARD_TMR_P50_RATIO_MAX, boardNotes, boardRows, measureBoardRoundTrips, type BoardRoundTripReport } from './board-round-trip.js';
import { avrRows, measureAvrRoundTrips } from './avr-round-trip.js';
import { formatNumber, formatTable, infoRow, percentiles, verdict, type Percentiles, type ResultRow } from './bench-stats.js';
import { runCoreProbe, type CoreProbeResult } from './core-probe.js';
import { measureHostPathCost, type HostPathCost } from './host-path-cost.js';
import { detectionRows, measureDetectionLatency } from './detection-latency.js';
import { fullStackRows, measureFullStackSpeed, measureStallRideThrough, stallRows } from './common-mode.js';
import { measureRateSweep, sweepNotes, sweepRows, type SweepReport } from './rate-sweep.js';
import { runCampaign, defaultWorkers } from '../../src/sim/campaign-runner.js';
import { measureRecoveryTimes, NODE_RECOVERY_BEYOND_PROBATION_MS_MAX, recoveryNotes, recoveryRows, UNO_RECOVERY_BEYOND_PROBATION_MS_MAX, type RecoveryReport } from './recovery-time.js';
import { runBlocks, startEchoFloorRig, TmrRig, type BlockPlan, type RigSamples, type TmrRigTally } from './round-trip.js';
import type { SchedStat } from './sched-stat.js';

const HEAP_PROBE_FLAG = '--heap-probe';
/** The target for `tmr law check` over 1,000,000 steps. */
const LAW_CHECK_SECONDS_MAX = 30;
const SIM_PROBE_FLAG = '--sim-probe';

// Round-trip plan: iterations per rig.
const UNPACED_WARM_UP: BlockPlan = { blocks: 1, iterationsPerBlock: 2_000, periodMs: null };
const UNPACED: BlockPlan = { blocks: 8, iterationsPerBlock: 2_500, periodMs: null };
const PACED_RATE_HZ = 1000;
const PACED_WARM_UP: BlockPlan = { blocks: 1, iterationsPerBlock: 200, periodMs: 1000 / PACED_RATE_HZ };
const PACED: BlockPlan = { blocks: 6, iterationsPerBlock: 500, periodMs: 1000 / PACED_RATE_HZ };
const TMR_TICKS_TOTAL = [UNPACED_WARM_UP, UNPACED, PACED_WARM_UP, PACED].reduce((sum, p) => sum + p.blocks * p.iterationsPerBlock, 0);

// Targets.
const TMR_P50_RATIO_MAX = 1.3;
const SIM_TICKS = 1_000_000;
/** The target: 1,000× real time for a 1 kHz loop. */
const SIM_REAL_TIME_MULTIPLE_MIN = 1000;
const SIM_TICKS_PER_S_MIN = SIM_REAL_TIME_MULTIPLE_MIN * 1000;
/** "Zero heap growth in steady state": under 0.01 B/tick leaves room only for one-off JIT and inline-cache data. */
const HEAP_GROWTH_BYTES_PER_TICK_MAX = 0.01;
/** A GC pause longer than a 1 kHz tick would eat a whole tick's budget. */
const GC_PAUSE_MS_MAX = 1;
/** Voter cost linear in N: N=9 costs at most 9/3 times N=3 (a fixed part only makes it less). */
const VOTER_LINEAR_RATIO_MAX = 9 / 3;
const CAMPAIGN_BENCH_SEEDS = 1000;
/** A voter step above the whole per-tick budget of the simulation target could never meet it. */
const VOTER_NS_PER_TICK_MAX = 1e9 / SIM_TICKS_PER_S_MIN;
/** The row: the generic law interface costs at most 10% over calling the same law function directly. */
const LAW_INTERFACE_RATIO_MAX = 1.1;

const PROBE_TIMEOUT_MS = 60_000;
/** The tick frame the floor echoes: a representative pid-q16 tick, 20 bytes on the wire. */
const FLOOR_TICK: TickMessage = { kind: 'tick', tick: 1000, inputs: [90_000, 45_000] };

interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  loadAverage1m: number;
}

function machine(): Machine {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    node: process.version,
    platform: `${process.platform} ${release()}`,
    loadAverage1m: loadavg()[0] ?? 0,
  };
}

/** The repository root: the nearest directory above this file with the project's package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  // Bounded: the bench lives at most a few levels below the root (test/bench or dist/test/bench).
  for (let level = 0; level < 6; level++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'tmr') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the tmr package root above the bench');
}

/** The echo child: the shared fixture, or the same one-liner inline if the fixture is missing. */
function echoCommand(root: string): { args: string[]; description: string } {
  const fixture = join(root, 'test/fixtures/echo-child.mjs');
  if (existsSync(fixture)) return { args: [fixture], description: 'test/fixtures/echo-child.mjs' };
  return { args: ['-e', "process.stdin.on('data', (c) => process.stdout.write(c))"], description: 'inline node -e echo' };
}



// ---------------------------------------------------------------------------------------------
// 1. Round trips.

interface SchedPerTick {
  cpuUs: number;
  runQueueWaitUs: number;
  timeslices: number;
}

interface RigResult {
  iteration: Percentiles;
  sendToAllReplies: Percentiles;
  /** Iteration minus send → replies: what the host does before sending and after the last reply. */
  hostPrePost: Percentiles;
  slotsSkipped: number;
  elapsedMs: number;
  /** Host main thread, per iteration, while this rig ran; null without /proc. */
  host: SchedPerTick | null;
  /** The rig's three children's main threads together, per iteration; null without /proc. */
  children: SchedPerTick | null;
}

interface RoundTripResult {
  floor: RigResult;
  tmr: RigResult;
}

interface RoundTripReport {
  echo: string;
  floorFrameBytes: number;
  unpaced: RoundTripResult;
  paced: RoundTripResult & { rateHz: number };
  tmrTally: TmrRigTally;
}

function perTick(sched: SchedStat | null, iterations: number): SchedPerTick | null {
  if (sched === null || iterations === 0) return null;
  return { cpuUs: sched.cpuNs / 1000 / iterations, runQueueWaitUs: sched.waitNs / 1000 / iterations, timeslices: sched.timeslices / iterations };
}

function rigResult(s: RigSamples): RigResult {
  const n = s.iterationUs.length;
  return {
    iteration: percentiles(s.iterationUs),
    sendToAllReplies: percentiles(s.roundTripUs),
    hostPrePost: percentiles(s.iterationUs.map((us, i) => us - (s.roundTripUs[i] as number))),
    slotsSkipped: s.slotsSkipped,
    elapsedMs: s.elapsedMs,
    host: perTick(s.hostSched, n),
    children: perTick(s.childSched, n),
  };
}

function summarise(floor: RigSamples, tmr: RigSamples): RoundTripResult {
  return { floor: rigResult(floor), tmr: rigResult(tmr) };
}

async function measureRoundTrips(root: string, owned: ChildProcessTransport[], signal: AbortSignal): Promise<RoundTripReport> {
  const echo = echoCommand(root);
  const floorFrame = encodeMessage(FLOOR_TICK);
  const floor = await startEchoFloorRig(process.execPath, echo.args, floorFrame, owned);
  const tmr = await TmrRig.start(TMR_TICKS_TOTAL, owned);
  const rigs = [floor, tmr];
  await runBlocks(rigs, UNPACED_WARM_UP, false, signal);
  const [floorUnpaced, tmrUnpaced] = (await runBlocks(rigs, UNPACED, true, signal)) as [RigSamples, RigSamples];
  await runBlocks(rigs, PACED_WARM_UP, false, signal);
  const [floorPaced, tmrPaced] = (await runBlocks(rigs, PACED, true, signal)) as [RigSamples, RigSamples];
  tmr.assertHealthy();
  return {
    echo: echo.description,
    floorFrameBytes: floorFrame.length,
    unpaced: summarise(floorUnpaced, tmrUnpaced),
    paced: { ...summarise(floorPaced, tmrPaced), rateHz: PACED_RATE_HZ },
    tmrTally: tmr.tally(),
  };
}

function roundTripRows(section: string, r: RoundTripResult): ResultRow[] {
  const f = r.floor.iteration;
  const t = r.tmr.iteration;
  const ratioP50 = t.p50Us / f.p50Us;
  const rows: ResultRow[] = [
    { section, metric: 'TMR tick p50 (full host path)', measured: t.p50Us, unit: 'µs', floor: f.p50Us, ratio: ratioP50, target: `≤ ${TMR_P50_RATIO_MAX.toFixed(2)}× floor`, verdict: verdict(ratioP50 <= TMR_P50_RATIO_MAX) },
    infoRow(section, 'TMR tick p99', t.p99Us, 'µs', f.p99Us),
    infoRow(section, 'TMR tick p99.9', t.p999Us, 'µs', f.p999Us),
    infoRow(section, 'TMR send → 3 replies in, p50', r.tmr.sendToAllReplies.p50Us, 'µs', f.p50Us),
  ];
  const th = r.tmr.host;
  const fh = r.floor.host;
  const tc = r.tmr.children;
  const fc = r.floor.children;
  if (th !== null && fh !== null) {
    rows.push(infoRow(section, 'host main thread: CPU per tick', th.cpuUs, 'µs', fh.cpuUs));
    rows.push(infoRow(section, 'host main thread: run-queue wait per tick', th.runQueueWaitUs, 'µs', fh.runQueueWaitUs));
  }
  if (tc !== null && fc !== null) {
    rows.push(infoRow(section, '3 children: CPU per tick (sum)', tc.cpuUs, 'µs', fc.cpuUs));
    rows.push(infoRow(section, '3 children: run-queue wait per tick (sum)', tc.runQueueWaitUs, 'µs', fc.runQueueWaitUs));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 2. Simulation speed.

interface SimResult {
  law: string;
  replicaCount: number;
  ticks: number;
  elapsedMs: number;
  ticksPerS: number;
  realTimeMultipleAt1kHz: number;
  votedCommands: number;
}

function measureSimulation(replicaCount: number, lawName: 'pid-q16' | 'tank' = 'pid-q16'): SimResult {
  const law = shippedLaw(lawName);
  const startMs = performance.now();
  const summary = runSimulation({ ...DEFAULT_LOOP_OPTIONS, law, plant: shippedPlantFor(law), replicaCount, rateHz: 1000, ticks: SIM_TICKS });
  const elapsedMs = performance.now() - startMs;
  if (summary.commands.voted !== SIM_TICKS || summary.unsafeCommands !== 0) {
    throw new Error(`simulation with ${replicaCount} replicas was not clean: ${JSON.stringify(summary.commands)}, ${summary.unsafeCommands} unsafe`);
  }
  const ticksPerS = (SIM_TICKS * 1000) / elapsedMs;
  return { law: lawName, replicaCount, ticks: SIM_TICKS, elapsedMs, ticksPerS, realTimeMultipleAt1kHz: ticksPerS / 1000, votedCommands: summary.commands.voted };
}

/** `tmr law check` over 1,000,000 steps for each shipped law: TypeScript here, C in the harness. */
async function lawCheckRows(): Promise<ResultRow[]> {
  const section = `tmr law check, ${formatNumber(CHECK_STEPS_DEFAULT)} seeded steps, TypeScript beside the C law built for this host`;
  const rows: ResultRow[] = [];
  for (const name of ['pid-q16', 'tank'] as const) {
    const report = await checkLawPair(shippedLaw(name), shippedLawSources(name).c, { steps: CHECK_STEPS_DEFAULT, seed: 1 });
    const seconds = report.elapsedMs / 1000;
    rows.push({
      section,
      metric: `${name}: wall time (build included)`,
      measured: seconds,
      unit: 's',
      floor: null,
      ratio: null,
      target: `< ${LAW_CHECK_SECONDS_MAX} s`,
      verdict: verdict(seconds < LAW_CHECK_SECONDS_MAX),
    });
  }
  return rows;
}

function simRows(results: readonly SimResult[]): ResultRow[] {
  const section = `simulation, ${formatNumber(SIM_TICKS)} ticks of a 1 kHz loop, one core, a fresh process; anchor = real time`;
  // The target is pid-q16's; another law's figure is reported beside it.
  return results.flatMap((s) => [
    s.law === 'pid-q16'
      ? {
          section,
          metric: `${s.law}, ${s.replicaCount} replicas + plant: × real time`,
          measured: s.realTimeMultipleAt1kHz,
          unit: '×',
          floor: 1,
          ratio: s.realTimeMultipleAt1kHz,
          target: `≥ ${formatNumber(SIM_REAL_TIME_MULTIPLE_MIN)}× real time`,
          verdict: verdict(s.realTimeMultipleAt1kHz >= SIM_REAL_TIME_MULTIPLE_MIN),
        }
      : infoRow(section, `${s.law}, ${s.replicaCount} replicas + plant: × real time`, s.realTimeMultipleAt1kHz, '×'),
    infoRow(section, `${s.law}, ${s.replicaCount} replicas + plant: ticks per second`, s.ticksPerS, 'ticks/s'),
  ]);
}

interface CampaignSpeed {
  seeds: number;
  workers: number;
  ticksPerSeed: number;
  wallMs: number;
  failed: number;
}

/** A fault campaign on every core: each seed runs its schedule, a fault-free reference and an oracle. */
async function measureCampaignSpeed(): Promise<CampaignSpeed> {
  const workers = defaultWorkers();
  const startMs = performance.now();
  const report = await runCampaign({ from: 1, seeds: CAMPAIGN_BENCH_SEEDS, faults: 'single', ticks: 1000, workers, testHookBrokenVoter: false });
  return { seeds: CAMPAIGN_BENCH_SEEDS, workers, ticksPerSeed: report.ticks, wallMs: performance.now() - startMs, failed: report.failed };
}

function campaignRows(c: CampaignSpeed, bare: SimResult): ResultRow[] {
  const section = `fault campaign, ${formatNumber(c.seeds)} seeds of --faults single, ${c.workers} workers; floor = bare simulation on one core`;
  const ticksPerS = (c.seeds * c.ticksPerSeed * 1000) / c.wallMs;
  return [
    infoRow(section, `seeds per second (${c.failed} failed)`, (c.seeds * 1000) / c.wallMs, 'seeds/s'),
    infoRow(section, 'scenario ticks per second, all workers (each seed also runs its fault-free reference)', ticksPerS, 'ticks/s', bare.ticksPerS),
    infoRow(section, '× real time of the 200 Hz loops it simulates', ticksPerS / 200, '×'),
  ];
}

/** The HIL bench's long scenario: the same loop plus johnny-five, the IO plugin and per-tick recording. */
async function measureHilSpeed(root: string, bare: SimResult): Promise<ResultRow[]> {
  const file = join(root, 'hil', 'scenarios', 'long-run-1khz.json');
  const result = await runScenario(parseScenario(readFileSync(file, 'utf8'), 'hil/scenarios/long-run-1khz.json'));
  if (result.verdict !== 'pass') throw new Error(`hil/scenarios/long-run-1khz.json did not pass: ${result.error ?? result.criteria.find((c) => !c.passed)?.message}`);
  const section = `HIL bench, ${formatNumber(result.ticks)} ticks at ${result.rateHz} Hz (hil/scenarios/long-run-1khz.json)`;
  const ticksPerS = (result.ticks * 1000) / result.wallMs;
  return [
    {
      section,
      metric: 'scenario incl. johnny-five path, recording, fault-free reference run',
      measured: result.realTimeFactor,
      unit: '× real time',
      floor: bare.realTimeMultipleAt1kHz,
      ratio: bare.realTimeMultipleAt1kHz / result.realTimeFactor,
      target: '> 1× real time (faster than the plant)',
      verdict: verdict(result.realTimeFactor > 1),
    },
    infoRow(section, 'ticks per second (two runs: the scenario and its reference)', ticksPerS, 'ticks/s'),
  ];
}

// ---------------------------------------------------------------------------------------------
// 3. The pure core, in a child with --expose-gc.

/**
 * Runs one of the bench's probes in a fresh Node process (`flag` selects it) and returns the JSON
 * it prints: the heap probe needs --expose-gc, and a timed run should not inherit this process's
 * heap and compiled code from the parts measured before it.
 */
async function runProbeChild<T>(flag: string, label: string): Promise<T> {
  const self = fileURLToPath(import.meta.url);
  const args = self.endsWith('.ts') ? ['--expose-gc', '--import', import.meta.resolve('tsx'), self, flag] : ['--expose-gc', self, flag];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4096)));
  let timer: NodeJS.Timeout | undefined;
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', (error) => reject(new Error(`cannot start the ${label}: ${error.message}`)));
      child.once('exit', (code, signal) => resolve({ code, signal }));
      timer = setTimeout(() => reject(new Error(`${label} still running after ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    if (exit.code !== 0) throw new Error(`${label} exited with ${exit.signal ?? exit.code}: ${stderr.trim()}`);
    const lastLine = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(lastLine) as T;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

function coreRows(probe: CoreProbeResult): ResultRow[] {
  const section = `pure core, ${formatNumber(probe.heap.ticks)} ticks`;
  const h = probe.heap;
  return [
    {
      section,
      metric: 'heap growth after GC, per tick, steady state (a second million ticks)',
      measured: h.steadyGrowthBytesPerTick,
      unit: 'B/tick',
      floor: null,
      ratio: null,
      target: `< ${HEAP_GROWTH_BYTES_PER_TICK_MAX} B/tick`,
      verdict: verdict(h.steadyGrowthBytesPerTick < HEAP_GROWTH_BYTES_PER_TICK_MAX),
    },
    infoRow(section, `first million ticks: heap after GC ${formatNumber(h.heapUsedBeforeBytes)} → ${formatNumber(h.heapUsedAfterBytes)} B (one-off code and caches)`, h.growthBytes, 'B'),
    infoRow(section, 'minor GCs while the ticks ran', h.minorGcs, 'GCs'),
    infoRow(section, 'short-lived allocation (dies young), per tick', h.transientBytesPerTick, 'B/tick'),
    infoRow(section, 'realistic loop (fill observations + step), N=3', h.loopNsPerTick, 'ns/tick'),
    // Anchor: N=3, the smallest voter; the ratio beside N/3 shows how far from linear each step is.
    ...probe.voter.map((v) => {
      const base = probe.voter[0]!.nsPerTick;
      return {
        section,
        metric: `voter step, N=${v.replicaCount} (anchor N=3; linear would be ${(v.replicaCount / 3).toFixed(2)}×)`,
        measured: v.nsPerTick,
        unit: 'ns/tick',
        floor: base,
        ratio: v.nsPerTick / base,
        target: `≤ ${formatNumber(VOTER_NS_PER_TICK_MAX)} ns/tick`,
        verdict: verdict(v.nsPerTick <= VOTER_NS_PER_TICK_MAX),
      };
    }),
    voterLinearityRow(probe),
    ...lawCallRows(probe),
    ...loopRows(probe),
  ];
}

function lawCallRows(probe: CoreProbeResult): ResultRow[] {
  const c = probe.lawCall;
  const section = `law call, ${c.law}, ${formatNumber(c.steps)} steps per block`;
  return [
    {
      section,
      metric: 'step + state digest through the generic law interface (floor = the same functions called directly)',
      measured: c.genericNsPerStep,
      unit: 'ns/step',
      floor: c.directNsPerStep,
      ratio: c.ratio,
      target: `≤ ${LAW_INTERFACE_RATIO_MAX.toFixed(2)}× direct`,
      verdict: verdict(c.ratio <= LAW_INTERFACE_RATIO_MAX),
    },
    infoRow(section, "a replica's whole tick (ReplicaLogic.onTick: the generic call plus tick and input checks)", c.replicaNsPerStep, 'ns/step', c.directNsPerStep),
  ];
}

function loopRows(probe: CoreProbeResult): ResultRow[] {
  const l = probe.loop;
  const section = `whole simulated loop, ${formatNumber(l.ticks)} ticks at ${l.rateHz} Hz (after a warm-up)`;
  const periodMs = 1000 / l.rateHz;
  return [
    {
      section,
      metric: `heap growth after GC, per tick, second half (${formatNumber(l.heapUsedMidBytes)} → ${formatNumber(l.heapUsedAfterBytes)} B)`,
      measured: l.steadyGrowthBytesPerTick,
      unit: 'B/tick',
      floor: null,
      ratio: null,
      target: `< ${HEAP_GROWTH_BYTES_PER_TICK_MAX} B/tick`,
      verdict: verdict(l.steadyGrowthBytesPerTick < HEAP_GROWTH_BYTES_PER_TICK_MAX),
    },
    infoRow(section, `first half: ${formatNumber(l.heapUsedBeforeBytes)} → ${formatNumber(l.heapUsedMidBytes)} B`, l.heapUsedMidBytes - l.heapUsedBeforeBytes, 'B'),
    {
      section,
      metric: `longest GC pause (${l.gcs} GCs, ${l.gcPauseTotalMs.toFixed(1)} ms in all); floor = one tick`,
      measured: l.gcPauseMaxMs * 1000,
      unit: 'µs',
      floor: periodMs * 1000,
      ratio: l.gcPauseMaxMs / periodMs,
      target: `< ${GC_PAUSE_MS_MAX * 1000} µs`,
      verdict: verdict(l.gcPauseMaxMs < GC_PAUSE_MS_MAX),
    },
    infoRow(section, 'time in GC', (l.gcPauseTotalMs / l.wallMs) * 100, '%'),
  ];
}

function voterLinearityRow(probe: CoreProbeResult): ResultRow {
  const by = (n: number): number => probe.voter.find((v) => v.replicaCount === n)?.nsPerTick ?? Number.NaN;
  const ratio = by(9) / by(3);
  return {
    section: `pure core, ${formatNumber(probe.heap.ticks)} ticks`,
    metric: 'voter step, N=9 vs N=3 (linear in N: at most 3×)',
    measured: by(9),
    unit: 'ns/tick',
    floor: by(3),
    ratio,
    target: `≤ ${VOTER_LINEAR_RATIO_MAX.toFixed(2)}× (linear)`,
    verdict: verdict(ratio <= VOTER_LINEAR_RATIO_MAX),
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Where the time goes.

function costRows(cost: HostPathCost, unpaced: RoundTripResult): ResultRow[] {
  const section = 'where the time goes (unpaced, per tick)';
  const rows: ResultRow[] = [
    infoRow(section, 'gap: TMR p50 − floor p50', unpaced.tmr.iteration.p50Us - unpaced.floor.iteration.p50Us, 'µs'),
    infoRow(section, 'of it host pre/post: p50 of (tick − send→replies)', unpaced.tmr.hostPrePost.p50Us, 'µs'),
  ];
  // In situ, from the scheduler: what TMR costs beyond the echo on the same machine at the same time.
  const t = unpaced.tmr;
  const f = unpaced.floor;
  if (t.host !== null && f.host !== null) rows.push(infoRow(section, 'in situ: host main thread CPU, TMR − floor', t.host.cpuUs - f.host.cpuUs, 'µs'));
  if (t.children !== null && f.children !== null) {
    rows.push(infoRow(section, 'in situ: each child CPU, replica − echo', (t.children.cpuUs - f.children.cpuUs) / 3, 'µs'));
  }
  for (const item of cost.items) {
    const perTickUs = (item.nsPerCall * item.callsPerTick) / 1000;
    const calls = item.callsPerTick > 1 ? ` ×${item.callsPerTick}` : '';
    const prefix = item.partOf !== null ? `hot loop:   of which ` : `hot loop: ${item.side}: `;
    rows.push(infoRow(section, `${prefix}${item.name}${calls}`, perTickUs, 'µs'));
  }
  rows.push(infoRow(section, 'hot loop: host total', cost.hostNsPerTick / 1000, 'µs'));
  rows.push(infoRow(section, 'hot loop: each replica total', cost.replicaNsPerTick / 1000, 'µs'));
  return rows;
}

// ---------------------------------------------------------------------------------------------

function outputPath(root: string): string {
  return process.env['BENCH_OUT'] ?? join(root, 'dist', 'bench-results.json');
}

interface Measured {
  /** Table order: round trips, where their time goes, boards, simulation, core, recovery (measured in another order). */
  readonly sections: ResultRow[][];
  readonly details: Record<string, unknown>;
  roundTrips: RoundTripReport | null;
  boards: BoardRoundTripReport | null;
  recovery: RecoveryReport | null;
  sweep: SweepReport | null;
  failure: unknown;
}

/** Runs every part in turn; a failure stops the run and is kept, with whatever was measured before it. */
async function measureAll(root: string, signal: AbortSignal): Promise<Measured> {
  // Table order (measured in another order): round trips, where their time goes, the rate sweep,
  // boards, detection latency, recovery, simulation and campaigns, the core and the long loop.
  const m: Measured = { sections: [[], [], [], [], [], [], [], []], details: {}, roundTrips: null, boards: null, recovery: null, sweep: null, failure: null };
  const [roundTripSection, costSection, sweepSection, boardSection, detectionSection, recoverySection, simSection, coreSection] = m.sections as [ResultRow[], ResultRow[], ResultRow[], ResultRow[], ResultRow[], ResultRow[], ResultRow[], ResultRow[]];
  const checkAborted = (): void => {
    if (signal.aborted) throw new Error('interrupted');
  };
  const owned: ChildProcessTransport[] = [];
  try {
    let roundTrips: RoundTripReport;
    try {
      roundTrips = await measureRoundTrips(root, owned, signal);
    } finally {
      await Promise.all(owned.map((t) => t.close()));
    }
    m.roundTrips = roundTrips;
    m.details['roundTrips'] = roundTrips;
    roundTripSection.push(...roundTripRows(`tick round trip, unpaced, n=${formatNumber(roundTrips.unpaced.tmr.iteration.count)} each`, roundTrips.unpaced));
    roundTripSection.push(...roundTripRows(`tick round trip, paced ${PACED_RATE_HZ} Hz, n=${formatNumber(roundTrips.paced.tmr.iteration.count)} each`, roundTrips.paced));
    checkAborted();

    const sims = await runProbeChild<SimResult[]>(SIM_PROBE_FLAG, 'simulation probe');
    m.details['simulation'] = sims;
    simSection.push(...simRows(sims));
    const campaign = await measureCampaignSpeed();
    m.details['campaign'] = campaign;
    simSection.push(...campaignRows(campaign, sims[0]!));
    simSection.push(...(await measureHilSpeed(root, sims[0]!)));
    simSection.push(...(await lawCheckRows()));
    const fullStack = await measureFullStackSpeed();
    m.details['fullStack'] = fullStack;
    simSection.push(...fullStackRows(fullStack));
    checkAborted();

    // A few minutes: a 10,000,000-tick log written, summarised and replayed, each process measured.
    const blackBox = measureBlackBoxScale(join(root, 'dist', 'bin', 'tmr.js'));
    m.details['blackBoxScale'] = blackBox;
    simSection.push(...blackBoxScaleRows(blackBox));
    checkAborted();

    const probe = await runProbeChild<CoreProbeResult>(HEAP_PROBE_FLAG, 'core probe');
    m.details['core'] = probe;
    coreSection.push(...coreRows(probe));
    checkAborted();

    const cost = await measureHostPathCost();
    m.details['hostPathCost'] = cost;
    costSection.push(...costRows(cost, roundTrips.unpaced));
    checkAborted();

    // About a minute: only the rate that passes runs its full 10,000 ticks.
    const sweep = await measureRateSweep(root, echoCommand(root).args, signal);
    m.sweep = sweep;
    m.details['rateSweep'] = sweep;
    sweepSection.push(...sweepRows(sweep));
    checkAborted();

    const detection = await measureDetectionLatency(root, signal);
    m.details['detectionLatency'] = detection;
    detectionSection.push(...detectionRows(detection));
    checkAborted();

    // About 40 s: real processes stopped together for longer each time.
    const stalls = await measureStallRideThrough(root, signal);
    m.details['commonModeStalls'] = stalls;
    detectionSection.push(...stallRows(stalls));
    checkAborted();

    // Then what needs socat and simavr, so a failure there does not cost the sections above.
    const boards = await measureBoardRoundTrips(root, signal);
    m.boards = boards;
    m.details['boardRoundTrips'] = boards;
    boardSection.push(...boardRows(boards));
    checkAborted();

    const avr = await measureAvrRoundTrips();
    m.details['avrRoundTrips'] = avr;
    boardSection.push(...avrRows(avr));
    checkAborted();

    // About two minutes: four 30 s runs at 100 Hz, with and without the simulated Firmata board.
    const firmataIo = await measureFirmataIo(root, signal);
    m.details['firmataIo'] = firmataIo;
    boardSection.push(...firmataIoRows(firmataIo));
    checkAborted();

    // About 45 s: a 20 s bare echo and a 20 s run, between network namespaces made for it.
    const tcpLink = await measureTcpLink(root, signal);
    m.details['tcpLink'] = tcpLink;
    boardSection.push(...tcpLinkRows(tcpLink));
    checkAborted();

    // About 40 s: ten leader deaths on a 3-member etcd with the voters' 2 s leases.
    const leaseTakeover = await measureLeaseTakeover(signal);
    m.details['leaseTakeover'] = leaseTakeover;
    boardSection.push(...leaseTakeoverRows(leaseTakeover));
    checkAborted();

    // About four minutes: 20 failover trials (kill, stop, partition from etcd, kill with the
    // simulated Firmata board behind the actuator) on network namespaces.
    const failover = await measureFailoverTakeover(signal);
    m.details['failoverTakeover'] = failover;
    const leaseMedianMs = leaseTakeover.takeoverMs.length === 0 ? null : percentiles(Float64Array.from(leaseTakeover.takeoverMs)).p50Us;
    boardSection.push(...failoverTakeoverRows(failover, leaseMedianMs));
    checkAborted();

    // About two minutes: 21 crashes at 2 s (Node) and 2.5 s (Uno) spacing, plus start-up.
    const recovery = await measureRecoveryTimes(signal);
    m.recovery = recovery;
    m.details['recoveryTimes'] = recovery;
    recoverySection.push(...recoveryRows(recovery));
  } catch (error) {
    m.failure = error;
  }
  return m;
}

function printNotes(m: Measured, host: Machine, totalMs: number): void {
  const r = m.roundTrips;
  if (r !== null) {
    const p = r.paced;
    const achievedHz = (n: number, ms: number): string => ((n * 1000) / ms).toFixed(0);
    const t = r.tmrTally;
    console.log(
      `floor: ${r.echo}, ${r.floorFrameBytes}-byte tick frame; TMR: 3 Node replicas (compiled), ${t.ticks} ticks, ` +
        `${t.votedTicks} voted, ${t.events} core events, ${t.lateReplies} late, ${t.protocolErrors} protocol errors`,
    );
    console.log(
      `paced: ${PACED_RATE_HZ} Hz slot grid, paced as tmr run paces (timer, then a precise wait); every tick follows an idle gap (missed slots are skipped): achieved ` +
        `${achievedHz(p.floor.iteration.count, p.floor.elapsedMs)} Hz floor / ${achievedHz(p.tmr.iteration.count, p.tmr.elapsedMs)} Hz TMR, ` +
        `slots skipped ${p.floor.slotsSkipped} floor / ${p.tmr.slotsSkipped} TMR`,
    );
  }
  if (m.boards !== null) for (const line of boardNotes(m.boards)) console.log(line);
  if (m.sweep !== null) for (const line of sweepNotes(m.sweep)) console.log(line);
  if (m.recovery !== null) for (const line of recoveryNotes(m.recovery)) console.log(line);
  console.log(
    `hot loop = the same code in a tight in-process loop (warm caches); in situ = scheduler CPU time of the main threads ` +
      `(/proc/<pid>/schedstat) during the interleaved blocks. ${host.cores} cores for the host and 3 children.`,
  );
  console.log(`total bench time ${(totalMs / 1000).toFixed(1)} s (build not included); load ${(loadavg()[0] ?? 0).toFixed(2)} at end`);
}

function describeError(error: unknown, withStack: boolean): string {
  if (!(error instanceof Error)) return String(error);
  return withStack ? (error.stack ?? error.message) : error.message;
}

async function main(): Promise<number> {
  const startedMs = performance.now();
  const startedAt = new Date().toISOString();
  const host = machine();
  const root = repoRoot();
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('bench: interrupted, stopping children…\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  console.log(`tmr bench — ${host.cpuModel}, ${host.cores} cores, node ${host.node}, ${host.platform}, load ${host.loadAverage1m.toFixed(2)} at start`);
  let m: Measured;
  try {
    m = await measureAll(root, controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const totalMs = performance.now() - startedMs;
  const rows = m.sections.flat();
  if (rows.length > 0) console.log(formatTable(rows));
  printNotes(m, host, totalMs);

  const out = outputPath(root);
  const report = {
    startedAt,
    machine: host,
    totalMs: Math.round(totalMs),
    targets: { tmrP50RatioMax: TMR_P50_RATIO_MAX, simTicksPerSMin: SIM_TICKS_PER_S_MIN, heapGrowthBytesPerTickMax: HEAP_GROWTH_BYTES_PER_TICK_MAX, voterNsPerTickMax: VOTER_NS_PER_TICK_MAX, lawInterfaceRatioMax: LAW_INTERFACE_RATIO_MAX, boardTmrP50RatioMax: BOARD_TMR_P50_RATIO_MAX,
      nodeRecoveryBeyondProbationMsMax: NODE_RECOVERY_BEYOND_PROBATION_MS_MAX, unoRecoveryBeyondProbationMsMax: UNO_RECOVERY_BEYOND_PROBATION_MS_MAX },
    rows,
    details: m.details,
    error: m.failure === null ? null : describeError(m.failure, true),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results: ${out}`);
  if (m.failure === null) return 0;
  console.error(`bench failed: ${describeError(m.failure, false)}`);
  return 1;
}

if (process.argv.includes(SIM_PROBE_FLAG)) {
  try {
    process.stdout.write(`${JSON.stringify([measureSimulation(3), measureSimulation(5), measureSimulation(3, 'tank')])}\n`);
  } catch (error) {
    process.stderr.write(`${describeError(error, true)}\n`);
    process.exitCode = 1;
  }
} else if (process.argv.includes(HEAP_PROBE_FLAG)) {
  runCoreProbe().then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`${describeError(error, true)}\n`);
      process.exitCode = 1;
    },
  );
} else {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench crashed: ${describeError(error, true)}\n`);
      process.exitCode = 1;
    },
  );
}
