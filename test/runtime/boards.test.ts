/**
 * Acceptance of serial-attached boards: simulated boards on real pseudo-terminals, opened through
 * serialport by the real runtime. Driven through the compiled CLI where a user would use it, and
 * through the runtime API where the test must act mid-run (pulling a cable).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SimBoard } from '../../firmware-sim/sim-board.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/runtime/loop-model.js';
import { serialReplica, type ReplicaProvider, type ReplicaSpec } from '../../src/runtime/replica-kinds.js';
import { runRealtime, type RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { SerialTransport } from '../../src/transport/serial-transport.js';
import { assertFreshBuild, replicaFlags, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';
import { timingFigure } from '../helpers/timing-figure.js';

beforeAll(() => assertFreshBuild());

const tmr = tmrJson;
const boards = replicaFlags;
/**
 * Deadlines a healthy replica may miss in one run because the shared machine stalled the host
 * (a waiting-on-a-dead-port or flood bug would cost one every tick for hundreds of ticks).
 */
const MACHINE_STALL_MISSES_MAX = 2;

// How many deadlines a 2-core machine's own stalls cost is a timing figure (test/helpers/timing-figure.ts).
// Measured in two fresh-clone CI runs: 4 misses in 10,000 ticks at 50 Hz, each a host stall past
// the 15 ms deadline (reply max 16-17 ms); the old build and the new give the same reply latency.

describe('three simulated boards on pseudo-terminals', () => {
  // 50 Hz (15 ms deadline): each tick crosses socat twice and serialport's two-hop reads on both
  // ends, seven processes on two cores. Measured on this 2-core VM: at 200 Hz about 3 misses per
  // 1,000 ticks, at 100 Hz about 1 per 1,000 (a latency tail of 5-8 ms), at 50 Hz none.
  it('run 10,000 ticks with no exclusion and the simulation\'s exact trace (the deadlines a machine stall costs: a figure)', async () => {
    const common = ['--rate-hz', '50', '--ticks', '10000', '--seed', '21'];
    // One attempt (200 s): if the machine held a command, the trace must still be the
    // simulation's up to that tick (see test/helpers/fault-free-trace.ts).
    const { last: run } = await runAgainstSim(common, boards('sim-board', 'sim-board', 'sim-board'), { attemptsMax: 1, label: '10,000 ticks on three sim-boards', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(run.replicas.map((r) => r.state)).toEqual(['inService', 'inService', 'inService']);
    // A lone scheduling stall of >15 ms has been seen once in 10,000 ticks (fresh-clone CI, issue 4).
    timingFigure('deadlines missed in 10,000 ticks on three sim-boards', run.deadlineMisses, MACHINE_STALL_MISSES_MAX, run.timing);
    expect(run.unsafeCommands).toBe(0);
    // Each board printed boot noise before its first frame; the splitter resynchronised on it.
    for (const link of run.links) expect(link.bytesIn).toBeGreaterThan(10_000 * 20);
  });
});

describe('a noisy line (bit-error rate 1e-3)', () => {
  const common = ['--rate-hz', '50', '--ticks', '1500', '--seed', '8'];

  it('toward the host: every corrupt frame is refused and counted, none is accepted, the trace is unchanged', async () => {
    const { last: run } = await runAgainstSim(common, boards('sim-board', 'sim-board:ber=0.001,noise=to-host', 'sim-board'), { attemptsMax: 3, label: 'noise toward the host', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(run.unsafeCommands).toBe(0);
    const noisy = run.replicas[1]!;
    expect(run.links[1]!.corruptFrames, 'the noise damaged no frame: the test proves nothing').toBeGreaterThan(10);
    // The board's state never diverged (the noise only goes toward the host), so any accepted
    // corrupt frame would show as a disagreement or a digest mismatch.
    expect(noisy.counters.disagreements).toBe(0);
    expect(noisy.counters.digestMismatches).toBe(0);
    if (noisy.state === 'excluded') expect(noisy.reason).toBe('PROTOCOL_ERROR');
    expect(run.replicas[0]!.state).toBe('inService');
    expect(run.replicas[2]!.state).toBe('inService');
  });

  it('both ways: a board that loses ticks is excluded naming the line, and the trace is unchanged', async () => {
    const { last: run } = await runAgainstSim(common, boards('sim-board', 'sim-board:ber=0.001', 'sim-board'), { attemptsMax: 3, label: 'noise both ways', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(run.unsafeCommands).toBe(0);
    expect(run.links[1]!.corruptFrames).toBeGreaterThan(10);
    const noisy = run.replicas[1]!;
    // Its corrupt frames (PROTOCOL_ERROR), or a tick the noise took from it on the way in: the board
    // did not step, so its state stays a step behind and every later digest says so (DIGEST_MISMATCH).
    if (noisy.state === 'excluded') expect(noisy.reason).toMatch(/^(PROTOCOL_ERROR|DIGEST_MISMATCH)$/);
  });
});

describe('broken boards', () => {
  it.each(['garbage', 'max-frames'])('a board flooding %s without pause neither slows the others nor is trusted', async (flood) => {
    const run = await tmr<RealtimeSummary>(['run', '--rate-hz', '50', '--ticks', '900', '--seed', '2', ...boards('sim-board', 'sim-board', `sim-board:flood=${flood},flood-after-ms=9000`)]);
    // A flood that slowed the host would cost the others a deadline on every tick it lasts (450
    // here); a lone machine stall costs one (seen once in fresh-clone CI), so up to two are allowed.
    for (const i of [0, 1]) {
      timingFigure(`deadlines replica ${i} missed beside a flooding board`, run.replicas[i]!.counters.missedDeadlines, MACHINE_STALL_MISSES_MAX, run.timing);
      expect(run.replicas[i]!.state).toBe('inService');
    }
    expect(run.replicas[2]!.state).toBe('excluded');
    expect(run.replicas[2]!.reason).toBe('PROTOCOL_ERROR');
    expect(run.links[2]!.bytesIn).toBeGreaterThan(100_000);
    expect(run.unsafeCommands).toBe(0);
    expect(run.finalMode).toBe('duplex');
  });

  it.each([['pid-q16', 'e9d7a0fc'], ['tank', '0823d7ea']])('boards with another build of law %s or protocol v1 are refused, naming the board and both hashes or versions', async (law, hash) => {
    const run = await tmr<RealtimeSummary>(['run', '--law', law, '--ticks', '20', ...boards('sim-board:law-hash=123', 'sim-board:protocol-version=1', 'sim-board')]);
    expect(run.replicas[0]!.reason).toBe('HANDSHAKE_REFUSED');
    expect(run.replicas[0]!.detail).toMatch(new RegExp(`^LAW_HASH_MISMATCH: replica 0 \\(sim-board\\) \\(\\S+sim-board-0\\.host@115200\\): sim-board/2 reports law hash 0x0000007b, the host's is 0x${hash}$`));
    expect(run.replicas[1]!.reason).toBe('HANDSHAKE_REFUSED');
    expect(run.replicas[1]!.detail).toMatch(/^PROTOCOL_VERSION_MISMATCH: replica 1 \(sim-board\) \(\S+\): sim-board\/2 speaks protocol v1, the host v2$/);
    expect(run.replicas[2]!.state).toBe('inService');
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
    expect(unpluggedAt).toBe(200);
    expect(pluggedAt).toBe(350);
    const victim = run.replicas[1]!;
    expect(victim.state).toBe('excluded');
    // Silence is noticed at the deadlines (two ticks after the first miss); the port's loss
    // itself (LINK_DOWN) is noticed within ~100-200 ms by the transport's probe, whichever first.
    expect(victim.reason).toMatch(/^(DEADLINE_MISSED|LINK_DOWN)$/);
    expect(victim.excludedTick!).toBeGreaterThanOrEqual(200);
    if (victim.firstMissTick !== null) expect(victim.excludedTick! - victim.firstMissTick).toBeLessThanOrEqual(2);
    expect(victim.excludedTick! - 200).toBeLessThanOrEqual(3);
    expect(run.links[1]!.description).toMatch(/unplug-1\.host@115200/);
    expect(victim.detail ?? '', 'the link never came back up').toMatch(/link back up/);
    // The others never waited on the dead port.
    for (const i of [0, 2]) timingFigure(`deadlines replica ${i} missed while a cable was out`, run.replicas[i]!.counters.missedDeadlines, MACHINE_STALL_MISSES_MAX, run.timing);
    timingFigure('tick overruns while a cable was out', run.timing.tickOverruns, 9, run.timing);
    expect(run.unsafeCommands).toBe(0);
  });
});
