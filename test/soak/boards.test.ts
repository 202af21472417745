/**
 * Soak (npm run soak, not npm test): the timing claims of serial-attached boards, simulated boards
 * on real pseudo-terminals opened through serialport by the real runtime, one run each, no retry.
 * 10,000 ticks with no exclusion and the simulation's exact trace; a board with noise both ways
 * excluded naming the line; a flooding board that does not slow the others; an unplugged cable
 * detected within 2 ticks of its first missed deadline. npm test keeps what holds whatever the
 * scheduler does (test/runtime/boards.test.ts). One file: npx vitest run --project soak test/soak/boards.test.ts
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SimBoard } from '../../firmware-sim/sim-board.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { serialReplica, type ReplicaProvider, type ReplicaSpec } from '../../src/runtime/replica-kinds.js';
import { runRealtime, type RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { SerialTransport } from '../../src/transport/serial-transport.js';
import { assertFreshBuild, replicaFlags, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';
import { expectHealthyReplicas } from '../helpers/healthy-replicas.js';

beforeAll(() => assertFreshBuild());

const tmr = tmrJson;
const boards = replicaFlags;
/**
 * Deadlines a healthy replica may miss in one run because the machine stalled the host (a
 * waiting-on-a-dead-port or flood bug would cost one every tick for hundreds of ticks).
 * Measured in two fresh-clone CI runs: 4 misses in 10,000 ticks at 50 Hz, each a host stall past
 * the 15 ms deadline (reply max 16-17 ms); the old build and the new give the same reply latency.
 */
const MACHINE_STALL_MISSES_MAX = 2;

describe('three simulated boards on pseudo-terminals', () => {
  // 50 Hz (15 ms deadline): each tick crosses socat twice and serialport's two-hop reads on both
  // ends, seven processes on two cores. Measured on this 2-core VM: at 200 Hz about 3 misses per
  // 1,000 ticks, at 100 Hz about 1 per 1,000 (a latency tail of 5-8 ms), at 50 Hz none.
  it("run 10,000 ticks with no exclusion, at most 2 deadlines missed to machine stalls, and the simulation's exact trace", async () => {
    const common = ['--rate-hz', '50', '--ticks', '10000', '--seed', '21'];
    const replicas = boards('sim-board', 'sim-board', 'sim-board');
    const command = `tmr run ${[...common, ...replicas].join(' ')}`;
    const { run, comparison } = await runAgainstSim(common, replicas, { label: '10,000 ticks on three sim-boards', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(comparison.identical, `the machine intervened at tick ${comparison.firstInterventionTick} (${command})`).toBe(true);
    expect(run.replicas.map((r) => r.state), `${command}: ${JSON.stringify(run.replicas)}`).toEqual(['inService', 'inService', 'inService']);
    // A lone scheduling stall of >15 ms has been seen once in 10,000 ticks (fresh-clone CI, issue 4).
    expect(run.deadlineMisses, `${command}: ${JSON.stringify(run.timing)}`).toBeLessThanOrEqual(MACHINE_STALL_MISSES_MAX);
    expect(run.unsafeCommands, command).toBe(0);
    // Each board printed boot noise before its first frame; the splitter resynchronised on it.
    for (const link of run.links) expect(link.bytesIn, command).toBeGreaterThan(10_000 * 20);
  });
});

describe('a noisy line (bit-error rate 1e-3)', () => {
  it("both ways: a board that loses ticks is excluded naming the line, and the trace is the simulation's", async () => {
    const common = ['--rate-hz', '50', '--ticks', '1500', '--seed', '8'];
    const replicas = boards('sim-board', 'sim-board:ber=0.001', 'sim-board');
    const command = `tmr run ${[...common, ...replicas].join(' ')}`;
    const { run, comparison } = await runAgainstSim(common, replicas, { label: 'noise both ways', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(comparison.identical, `the machine intervened at tick ${comparison.firstInterventionTick} (${command})`).toBe(true);
    expect(run.unsafeCommands, command).toBe(0);
    expect(run.links[1]!.corruptFrames, `the noise damaged no frame: the test proves nothing (${command})`).toBeGreaterThan(10);
    // Its corrupt frames (PROTOCOL_ERROR), or a tick the noise took from it on the way in: the board
    // did not step, so its state stays a step behind and every later digest says so (DIGEST_MISMATCH).
    expect([null, 'PROTOCOL_ERROR', 'DIGEST_MISMATCH'], `${command}: ${JSON.stringify(run.replicas[1])}`).toContain(run.replicas[1]!.reason);
    expectHealthyReplicas(run, [0, 2], command);
  });
});

describe('broken boards', () => {
  it.each(['garbage', 'max-frames'])('a board flooding %s without pause neither slows the others nor is trusted', async (flood) => {
    const args = ['run', '--rate-hz', '50', '--ticks', '900', '--seed', '2', ...boards('sim-board', 'sim-board', `sim-board:flood=${flood},flood-after-ms=9000`)];
    const command = `tmr ${args.join(' ')}`;
    const run = await tmr<RealtimeSummary>(args);
    // A flood that slowed the host would cost the others a deadline on every tick it lasts (450
    // here); a lone machine stall costs one (seen once in fresh-clone CI), so up to two are allowed.
    for (const i of [0, 1]) {
      expect(run.replicas[i]!.counters.missedDeadlines, `replica ${i} beside a flooding board (${command}): ${JSON.stringify(run.timing)}`).toBeLessThanOrEqual(MACHINE_STALL_MISSES_MAX);
      expect(run.replicas[i]!.state, `${command}: ${JSON.stringify(run.replicas[i])}`).toBe('inService');
    }
    expect(run.replicas[2]!.state, command).toBe('excluded');
    expect(run.replicas[2]!.reason, command).toBe('PROTOCOL_ERROR');
    expect(run.links[2]!.bytesIn, command).toBeGreaterThan(100_000);
    expect(run.unsafeCommands, command).toBe(0);
    expect(run.finalMode, command).toBe('duplex');
  });
});

describe('an unplugged cable', () => {
  it('is detected within 2 ticks of its first missed deadline, the loop keeps its rhythm while the port is retried, and the link comes back', async () => {
    const started: SimBoard[] = [];
    const provider: ReplicaProvider = {
      kind: 'sim-board',
      async start(_spec, i) {
        const board = await SimBoard.start({ name: `unplug-${i}`, bootNoise: true });
        started.push(board);
        const transport = await SerialTransport.open({ path: board.hostPath, baudRate: 115_200, name: `replica ${i}` });
        return serialReplica(transport, () => board.stop(), board.pid, (s) => board.signal(s), board.dataPathPids);
      },
    };
    const spec: ReplicaSpec = { kind: 'sim-board' };
    let unpluggedAt = -1;
    let pluggedAt = -1;
    const run = await runRealtime(
      { ...DEFAULT_LOOP_OPTIONS, rateHz: 50, ticks: 600, seed: 4, deadlineUs: 15_000, handshakeTimeoutMs: 15_000, replicas: [spec, spec, spec], providers: [provider] },
      {
        onTick: (_model, result) => {
          const tick = result.tick;
          if (tick === 200) void started[1]!.unplug().then(() => (unpluggedAt = tick));
          if (tick === 350) void started[1]!.plugIn().then(() => (pluggedAt = tick));
        },
      },
    );
    const context = `runRealtime at 50 Hz, 600 ticks, seed 4, cable of replica 1 out at tick 200, back at 350: ${JSON.stringify(run.replicas)}; ${JSON.stringify(run.timing)}`;
    expect(unpluggedAt).toBe(200);
    expect(pluggedAt).toBe(350);
    const victim = run.replicas[1]!;
    expect(victim.state, context).toBe('excluded');
    // Silence is noticed at the deadlines (two ticks after the first miss); the port's loss
    // itself (LINK_DOWN) is noticed within ~100-200 ms by the transport's probe, whichever first
    // (then there may have been no missed deadline at all).
    expect(victim.reason, context).toMatch(/^(DEADLINE_MISSED|LINK_DOWN)$/);
    expect(victim.excludedTick!, context).toBeGreaterThanOrEqual(200);
    const latencyTicks = victim.firstMissTick === null ? 0 : victim.excludedTick! - victim.firstMissTick;
    expect(latencyTicks, `ticks from the first missed deadline to the exclusion (${context})`).toBeLessThanOrEqual(2);
    expect(victim.excludedTick! - 200, context).toBeLessThanOrEqual(3);
    expect(run.links[1]!.description).toMatch(/unplug-1\.host@115200/);
    expect(victim.detail ?? '', `the link never came back up (${context})`).toMatch(/link back up/);
    // The others never waited on the dead port.
    for (const i of [0, 2]) expect(run.replicas[i]!.counters.missedDeadlines, `deadlines replica ${i} missed while a cable was out (${context})`).toBeLessThanOrEqual(MACHINE_STALL_MISSES_MAX);
    expect(run.timing.tickOverruns, `tick overruns while a cable was out (${context})`).toBeLessThanOrEqual(9);
    expect(run.unsafeCommands, context).toBe(0);
  });
});
