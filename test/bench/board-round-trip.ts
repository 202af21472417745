/**
 * Tick round trips over pseudo-terminals, and the bytes a tick costs on the wire.
 *
 *  - startPtyEchoFloorRig (the floor, an EchoRig): three socat pty pairs, test/bench/pty-echo.mjs on each board end
 *    (serialport, as the simulated board holds its end), SerialTransport on each host end. One
 *    iteration sends a pre-encoded 20-byte tick frame to all three and ends when all three are back.
 *  - BoardTmrRig: three firmware-sim boards (boot noise on) opened with SerialTransport behind
 *    ReplicaLinks, driven exactly as round-trip.ts's TmrRig drives Node replicas: prepareReplicas
 *    (handshake, warm-up, handshake), then per iteration the full host path.
 * Both go through round-trip.ts's runBlocks (interleaved blocks A B A B), unpaced and paced at
 * 100 Hz. The TMR rig also counts what each transport moved during its own ticks, compared with
 * the smallest encoding of the same fields (WIRE_FLOOR).
 *
 * Everything started here (socat, echo processes, boards, ports) is stopped in a finally block, by
 * PID, also when a measurement fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PtyPair } from '../../firmware-sim/pty-pair.js';
import { SimBoard } from '../../firmware-sim/sim-board.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { FRAME_CRC_BYTES } from '../../src/protocol/frame.js';
import type { TickMessage } from '../../src/protocol/messages.js';
import { SerialTransport } from '../../src/transport/serial-transport.js';
import { formatNumber, infoRow, percentiles, verdict, type Percentiles, type ResultRow } from './bench-stats.js';
import { EchoRig, RIG_LAW, RIG_REPLICA_COUNT, runBlocks, TmrRig, type BlockPlan, type RigSamples, type TmrRigTally } from './round-trip.js';
import type { SchedStat } from './sched-stat.js';
import { runCleanups, type Cleanup } from '../helpers/processes.js';

const BAUD_RATE = 115_200;

// Plan: iterations per rig. A pty round trip is ~10× a pipe's, so fewer than the pipe section.
const UNPACED_WARM_UP: BlockPlan = { blocks: 1, iterationsPerBlock: 500, periodMs: null };
const UNPACED: BlockPlan = { blocks: 6, iterationsPerBlock: 500, periodMs: null };
export const BOARD_PACED_RATE_HZ = 100;
const PACED_WARM_UP: BlockPlan = { blocks: 1, iterationsPerBlock: 50, periodMs: 1000 / BOARD_PACED_RATE_HZ };
const PACED: BlockPlan = { blocks: 4, iterationsPerBlock: 250, periodMs: 1000 / BOARD_PACED_RATE_HZ };
const TMR_TICKS_TOTAL = [UNPACED_WARM_UP, UNPACED, PACED_WARM_UP, PACED].reduce((sum, p) => sum + p.blocks * p.iterationsPerBlock, 0);

/** Target: TMR p50 over boards within this multiple of the bare pty echo's. */
export const BOARD_TMR_P50_RATIO_MAX = 1.5;
/** Paced: an iteration whose three replies (send → last reply) took longer than this missed, ms. */
export const BOARD_DEADLINE_MS = 7.5;

const ECHO_READY_TIMEOUT_MS = 10_000;
const ECHO_STOP_GRACE_MS = 1_000;
const ECHO_STDERR_BYTES_MAX = 2_048;
/** The tick frame the floor echoes: the pipe floor's representative pid-q16 tick, 20 bytes on the wire. */
const FLOOR_TICK: TickMessage = { kind: 'tick', tick: 1000, inputs: [90_000, 45_000] };

/**
 * The smallest encoding that carries the same fields, as this bench defines it: the fields packed
 * as fixed-width little-endian binary, the same CRC-32 and one delimiter byte.
 */
export const WIRE_FLOOR = {
  /** tick (uint32) + pid-q16's inputs (int32 each: setpoint, position). */
  tickFieldBytes: 4 + 4 * RIG_LAW.inputCount,
  /** tick (uint32) + outputs (int32 each) + stateDigest (uint32). */
  outputFieldBytes: 4 + 4 * RIG_LAW.outputCount + 4,
  crcBytes: FRAME_CRC_BYTES,
  delimiterBytes: 1,
} as const;
/** Our framing per frame beyond the CBOR payload: CRC-32, one COBS code byte (frames < 254 B), 0x00. */
const OUR_FRAMING_BYTES = FRAME_CRC_BYTES + 1 + 1;

// ---------------------------------------------------------------------------------------------
// The floor: a bare echo on each pty.

/** test/bench/pty-echo.mjs on one board end; started, waited for ("ready"), stopped by PID. */
class PtyEcho {
  private readonly exited: Promise<void>;
  private stderrTail = '';

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.on('data', (c: Buffer) => (this.stderrTail = (this.stderrTail + c.toString()).slice(-ECHO_STDERR_BYTES_MAX)));
    child.stdin!.on('error', () => {});
  }

  static async start(script: string, boardPath: string): Promise<PtyEcho> {
    const echo = new PtyEcho(spawn(process.execPath, [script, boardPath], { stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      await echo.waitReady();
    } catch (error) {
      await echo.stop();
      throw error;
    }
    return echo;
  }

  private waitReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`pty echo: not ready within ${ECHO_READY_TIMEOUT_MS} ms: ${this.stderrTail.trim()}`)), ECHO_READY_TIMEOUT_MS);
      this.child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`pty echo: cannot start: ${error.message}`));
      });
      this.child.stdout!.on('data', (c: Buffer) => {
        stdout = (stdout + c.toString()).slice(-ECHO_STDERR_BYTES_MAX);
        if (stdout.includes('ready ')) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`pty echo: exited (${signal ?? code}) before it was ready: ${this.stderrTail.trim()}`));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  async stop(): Promise<void> {
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), ECHO_STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

function definedPids(pids: readonly (number | undefined)[]): number[] {
  return pids.filter((pid): pid is number => pid !== undefined);
}

/** Pairs, echoes and ports, each registered in `cleanups` as soon as it exists. */
async function startPtyEchoFloorRig(script: string, frame: Uint8Array, cleanups: Cleanup[]): Promise<EchoRig> {
  const transports: SerialTransport[] = [];
  const pids: (number | undefined)[] = [];
  for (let i = 0; i < RIG_REPLICA_COUNT; i++) {
    const pair = await PtyPair.open({ name: `bench-echo-${i}` });
    cleanups.push(() => pair.stop());
    const echo = await PtyEcho.start(script, pair.boardPath);
    cleanups.push(() => echo.stop());
    const transport = await SerialTransport.open({ path: pair.hostPath, baudRate: BAUD_RATE, name: `echo board ${i}` });
    cleanups.push(() => transport.close());
    transports.push(transport);
    pids.push(echo.pid, pair.pid);
  }
  // The echo processes and their socat processes: every process the bytes pass through.
  return new EchoRig('pty echo floor', transports, frame, definedPids(pids), (i, reason) => `echo board ${i}: ${reason}`).proven();
}

// ---------------------------------------------------------------------------------------------
// TMR over three simulated boards.

/** Bytes and frames each transport moved during the TMR rig's own ticks (not between them). */
class WireTally {
  ticks = 0;
  bytesOut = 0;
  bytesIn = 0;
  framesOut = 0;
  framesIn = 0;
  counting = false;
  private readonly before: Float64Array;

  constructor(private readonly transports: readonly SerialTransport[]) {
    this.before = new Float64Array(4 * transports.length);
  }

  /** Before a tick. */
  mark(): void {
    const b = this.before;
    this.transports.forEach((t, i) => {
      b[4 * i] = t.stats.bytesOut;
      b[4 * i + 1] = t.stats.bytesIn;
      b[4 * i + 2] = t.stats.framesOut;
      b[4 * i + 3] = t.stats.framesIn;
    });
  }

  /** After the tick: adds what moved since mark(), if counting. */
  add(): void {
    if (!this.counting) return;
    const b = this.before;
    this.ticks++;
    this.transports.forEach((t, i) => {
      this.bytesOut += t.stats.bytesOut - (b[4 * i] as number);
      this.bytesIn += t.stats.bytesIn - (b[4 * i + 1] as number);
      this.framesOut += t.stats.framesOut - (b[4 * i + 2] as number);
      this.framesIn += t.stats.framesIn - (b[4 * i + 3] as number);
    });
  }
}

/** The same TMR rig as the pipe bench's, over serial ports to simulated boards, counting bytes on the wire. */
class BoardTmrRig extends TmrRig {
  readonly wire: WireTally;

  private constructor(name: string, transports: readonly SerialTransport[], childPids: readonly number[], rateHz: number, totalTicks: number, replicaWord: string) {
    super(name, transports, childPids, rateHz, totalTicks, replicaWord);
    this.wire = new WireTally(transports);
  }

  /** Boards and ports, each registered in `cleanups` as soon as it exists. */
  static async startOnBoards(totalTicks: number, cleanups: Cleanup[]): Promise<BoardTmrRig> {
    const transports: SerialTransport[] = [];
    const pids: number[] = [];
    for (let i = 0; i < RIG_REPLICA_COUNT; i++) {
      const board = await SimBoard.start({ name: `bench-board-${i}`, bootNoise: true, law: RIG_LAW.source });
      cleanups.push(() => board.stop());
      const transport = await SerialTransport.open({ path: board.hostPath, baudRate: BAUD_RATE, name: `replica ${i} (sim-board)` });
      cleanups.push(() => transport.close());
      transports.push(transport);
      pids.push(...board.dataPathPids);
    }
    const rig = new BoardTmrRig('TMR on sim boards', transports, pids, BOARD_PACED_RATE_HZ, totalTicks, 'board');
    await rig.handshake();
    return rig;
  }

  override async iterate(): Promise<number> {
    // Outside the timed span: a few property reads, but not ours to charge to the host path.
    this.wire.mark();
    const us = await super.iterate();
    this.wire.add();
    return us;
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring and reporting.

interface BoardRigResult {
  iteration: Percentiles;
  sendToAllReplies: Percentiles;
  /** Iterations whose send → all three replies exceeded BOARD_DEADLINE_MS. */
  deadlineMisses: number;
  slotsSkipped: number;
  elapsedMs: number;
  /** Per iteration, µs, from the scheduler: the host's main thread; the data path (boards or echoes + socat). */
  host: SchedPerTick | null;
  dataPath: SchedPerTick | null;
}

interface SchedPerTick {
  cpuUs: number;
  /** Runnable but waiting for a CPU. */
  runQueueWaitUs: number;
}

function perTick(sched: SchedStat | null, iterations: number): SchedPerTick | null {
  if (sched === null || iterations === 0) return null;
  return { cpuUs: sched.cpuNs / 1000 / iterations, runQueueWaitUs: sched.waitNs / 1000 / iterations };
}

interface BoardRoundTrip {
  floor: BoardRigResult;
  tmr: BoardRigResult;
}

export interface WireBytes {
  /** TMR ticks counted (every tick after the first warm-up). */
  ticks: number;
  replicaCount: number;
  /** Measured, per tick per replica. */
  hostToReplicaBytes: number;
  replicaToHostBytes: number;
  framesOutPerTick: number;
  framesInPerTick: number;
  /** The floor (WIRE_FLOOR): fields + CRC-32 + delimiter; and the fields alone. */
  tickFloorBytes: number;
  outputFloorBytes: number;
  tickFieldBytes: number;
  outputFieldBytes: number;
}

export interface BoardRoundTripReport {
  echo: string;
  floorFrameBytes: number;
  unpaced: BoardRoundTrip;
  paced: BoardRoundTrip & { rateHz: number; deadlineMs: number };
  tmrTally: TmrRigTally;
  wire: WireBytes;
}

function rigResult(s: RigSamples): BoardRigResult {
  const n = s.iterationUs.length;
  let deadlineMisses = 0;
  for (const us of s.roundTripUs) if (us > BOARD_DEADLINE_MS * 1000) deadlineMisses++;
  return {
    iteration: percentiles(s.iterationUs),
    sendToAllReplies: percentiles(s.roundTripUs),
    deadlineMisses,
    slotsSkipped: s.slotsSkipped,
    elapsedMs: s.elapsedMs,
    host: perTick(s.hostSched, n),
    dataPath: perTick(s.childSched, n),
  };
}

function wireBytes(tally: WireTally): WireBytes {
  const perReplicaTick = Math.max(1, tally.ticks * RIG_REPLICA_COUNT);
  const f = WIRE_FLOOR;
  return {
    ticks: tally.ticks,
    replicaCount: RIG_REPLICA_COUNT,
    hostToReplicaBytes: tally.bytesOut / perReplicaTick,
    replicaToHostBytes: tally.bytesIn / perReplicaTick,
    framesOutPerTick: tally.framesOut / perReplicaTick,
    framesInPerTick: tally.framesIn / perReplicaTick,
    tickFloorBytes: f.tickFieldBytes + f.crcBytes + f.delimiterBytes,
    outputFloorBytes: f.outputFieldBytes + f.crcBytes + f.delimiterBytes,
    tickFieldBytes: f.tickFieldBytes,
    outputFieldBytes: f.outputFieldBytes,
  };
}

function echoScript(root: string): string {
  const script = join(root, 'test/bench/pty-echo.mjs');
  if (!existsSync(script)) throw new Error(`the pty echo board is missing: ${script}`);
  return script;
}

async function runRigs(floor: EchoRig, tmr: BoardTmrRig, signal: AbortSignal): Promise<Omit<BoardRoundTripReport, 'echo' | 'floorFrameBytes'>> {
  const rigs = [floor, tmr];
  await runBlocks(rigs, UNPACED_WARM_UP, false, signal);
  tmr.wire.counting = true;
  const [floorUnpaced, tmrUnpaced] = (await runBlocks(rigs, UNPACED, true, signal)) as [RigSamples, RigSamples];
  await runBlocks(rigs, PACED_WARM_UP, false, signal);
  const [floorPaced, tmrPaced] = (await runBlocks(rigs, PACED, true, signal)) as [RigSamples, RigSamples];
  tmr.assertHealthy();
  return {
    unpaced: { floor: rigResult(floorUnpaced), tmr: rigResult(tmrUnpaced) },
    paced: { floor: rigResult(floorPaced), tmr: rigResult(tmrPaced), rateHz: BOARD_PACED_RATE_HZ, deadlineMs: BOARD_DEADLINE_MS },
    tmrTally: tmr.tally(),
    wire: wireBytes(tmr.wire),
  };
}

/** Starts both rigs, runs them interleaved, and stops everything it started, whatever happened. */
export async function measureBoardRoundTrips(root: string, signal: AbortSignal): Promise<BoardRoundTripReport> {
  const script = echoScript(root);
  const floorFrame = encodeMessage(FLOOR_TICK);
  const cleanups: Cleanup[] = [];
  let report: BoardRoundTripReport | null = null;
  let failure: unknown = null;
  try {
    const floor = await startPtyEchoFloorRig(script, floorFrame, cleanups);
    if (signal.aborted) throw new Error('interrupted');
    const tmr = await BoardTmrRig.startOnBoards(TMR_TICKS_TOTAL, cleanups);
    report = { echo: 'test/bench/pty-echo.mjs', floorFrameBytes: floorFrame.length, ...(await runRigs(floor, tmr, signal)) };
  } catch (error) {
    failure = error;
  } finally {
    const cleanupErrors = await runCleanups(cleanups);
    failure ??= cleanupErrors[0] ?? null;
  }
  if (failure !== null || report === null) throw failure ?? new Error('board round trip: no result');
  return report;
}



function roundTripRows(section: string, r: BoardRoundTrip, paced: boolean): ResultRow[] {
  const f = r.floor;
  const t = r.tmr;
  const ratioP50 = t.iteration.p50Us / f.iteration.p50Us;
  const rows: ResultRow[] = [
    {
      section,
      metric: 'TMR tick p50 (full host path) vs pty echo',
      measured: t.iteration.p50Us,
      unit: 'µs',
      floor: f.iteration.p50Us,
      ratio: ratioP50,
      target: `≤ ${BOARD_TMR_P50_RATIO_MAX.toFixed(2)}× floor`,
      verdict: verdict(ratioP50 <= BOARD_TMR_P50_RATIO_MAX),
    },
    infoRow(section, 'TMR tick p99', t.iteration.p99Us, 'µs', f.iteration.p99Us),
    infoRow(section, 'TMR tick p99.9', t.iteration.p999Us, 'µs', f.iteration.p999Us),
    infoRow(section, 'TMR send → 3 replies in, p50', t.sendToAllReplies.p50Us, 'µs', f.sendToAllReplies.p50Us),
  ];
  if (paced) {
    rows.push(infoRow(section, 'TMR send → 3 replies in, max', t.sendToAllReplies.maxUs, 'µs', f.sendToAllReplies.maxUs));
    rows.push(infoRow(section, `deadline misses: 3 replies not in within ${BOARD_DEADLINE_MS} ms`, t.deadlineMisses, 'ticks', f.deadlineMisses));
  }
  // The tail on a busy machine is mostly waiting for a CPU: these say whose wait it is.
  if (t.host !== null && f.host !== null) {
    rows.push(infoRow(section, 'host main thread: CPU per tick', t.host.cpuUs, 'µs', f.host.cpuUs));
    rows.push(infoRow(section, 'host main thread: run-queue wait per tick', t.host.runQueueWaitUs, 'µs', f.host.runQueueWaitUs));
  }
  if (t.dataPath !== null && f.dataPath !== null) {
    rows.push(infoRow(section, 'data path CPU per tick: 3 boards + 3 socat (floor: 3 echoes + 3 socat)', t.dataPath.cpuUs, 'µs', f.dataPath.cpuUs));
    rows.push(infoRow(section, 'data path run-queue wait per tick (same processes)', t.dataPath.runQueueWaitUs, 'µs', f.dataPath.runQueueWaitUs));
  }
  return rows;
}

function wireRows(w: WireBytes): ResultRow[] {
  const section = `bytes on the wire per tick per replica (TMR on 3 sim boards, n=${formatNumber(w.ticks)} ticks)`;
  const floorWords = `fields + CRC-32 + 1 B delimiter`;
  return [
    infoRow(section, `host → replica (tick) vs ${w.tickFieldBytes} B ${floorWords}`, w.hostToReplicaBytes, 'B', w.tickFloorBytes),
    infoRow(section, `replica → host (output) vs ${w.outputFieldBytes} B ${floorWords}`, w.replicaToHostBytes, 'B', w.outputFloorBytes),
    infoRow(section, 'both directions', w.hostToReplicaBytes + w.replicaToHostBytes, 'B', w.tickFloorBytes + w.outputFloorBytes),
    infoRow(section, 'host → replica vs bare fields (no CRC, no delimiter)', w.hostToReplicaBytes, 'B', w.tickFieldBytes),
    infoRow(section, 'replica → host vs bare fields (no CRC, no delimiter)', w.replicaToHostBytes, 'B', w.outputFieldBytes),
    infoRow(section, `host → replica: CBOR payload (frame − ${OUR_FRAMING_BYTES} B framing) vs fields`, w.hostToReplicaBytes - OUR_FRAMING_BYTES, 'B', w.tickFieldBytes),
    infoRow(section, `replica → host: CBOR payload (frame − ${OUR_FRAMING_BYTES} B framing) vs fields`, w.replicaToHostBytes - OUR_FRAMING_BYTES, 'B', w.outputFieldBytes),
    infoRow(section, 'frames per tick: host → replica', w.framesOutPerTick, 'frames'),
    infoRow(section, 'frames per tick: replica → host', w.framesInPerTick, 'frames'),
  ];
}

/** The two board sections' rows: round trips (unpaced, paced), then bytes on the wire. */
export function boardRows(r: BoardRoundTripReport): ResultRow[] {
  const base = 'tick round trip over 3 sim boards on ptys';
  return [
    ...roundTripRows(`${base}, unpaced, n=${formatNumber(r.unpaced.tmr.iteration.count)} each`, r.unpaced, false),
    ...roundTripRows(`${base}, paced ${r.paced.rateHz} Hz, n=${formatNumber(r.paced.tmr.iteration.count)} each`, r.paced, true),
    ...wireRows(r.wire),
  ];
}

/** Lines for the notes under the table: what was run, and how the wire floor is derived. */
export function boardNotes(r: BoardRoundTripReport): string[] {
  const t = r.tmrTally;
  const p = r.paced;
  const w = r.wire;
  const f = WIRE_FLOOR;
  const achievedHz = (x: BoardRigResult): string => ((x.iteration.count * 1000) / x.elapsedMs).toFixed(0);
  return [
    `boards: floor = 3 socat pty pairs + ${r.echo} (serialport), ${r.floorFrameBytes}-byte tick frame; TMR = 3 firmware-sim boards ` +
      `(boot noise), ${t.ticks} ticks, ${t.votedTicks} voted, ${t.events} core events, ${t.lateReplies} late, ${t.protocolErrors} protocol errors`,
    `boards paced: ${p.rateHz} Hz slot grid; achieved ${achievedHz(p.floor)} Hz floor / ${achievedHz(p.tmr)} Hz TMR, slots skipped ` +
      `${p.floor.slotsSkipped} floor / ${p.tmr.slotsSkipped} TMR; a deadline miss = send → all 3 replies > ${p.deadlineMs} ms` +
      (p.tmr.iteration.count <= 1000 ? `; at n=${p.tmr.iteration.count} p99.9 is the largest sample` : ''),
    `wire floor: tick = tick u32 + setpoint i32 + position i32 = ${f.tickFieldBytes} B, + CRC-32 ${f.crcBytes} B + delimiter ` +
      `${f.delimiterBytes} B = ${w.tickFloorBytes} B; output = tick u32 + ${RIG_LAW.outputCount} × i32 + digest u32 = ${f.outputFieldBytes} B → ` +
      `${w.outputFloorBytes} B. Ours = CBOR [type, fields…] + CRC-32 + 1 COBS byte + 0x00: the COBS byte is what lets a 0x00 ` +
      `delimiter work when fields contain 0x00 (the floor would need it too, or CRC hunting); the type byte tells messages apart; ` +
      `CBOR's variable-length integers undercut fixed-width fields at these magnitudes (the payload rows), so fixed width is not a lower bound.`,
    `wire measured: transport stats (bytesOut/bytesIn) over the TMR rig's own ticks only (heartbeats between its blocks excluded), ` +
      `ticks 0…${t.ticks - 1}; CBOR integers grow with magnitude: past tick 65,535 a tick number costs 2 B more each way.`,
  ];
}
