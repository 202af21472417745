/**
 * Acceptance of serial-attached boards: simulated boards on real pseudo-terminals, opened through
 * serialport by the real runtime, driven through the compiled CLI as a user runs it. What is
 * asserted holds whatever the scheduler does: refusals at the handshake, corrupt frames refused
 * and counted, nothing unsafe, the simulation's trace up to the first timing event. The timing
 * claims (10,000 ticks with no exclusion, noise both ways, floods, an unplugged cable) are in
 * test/soak/boards.test.ts, npm run soak.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { assertFreshBuild, replicaFlags, runCli, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';
import { expectHealthyReplicas } from '../helpers/healthy-replicas.js';

beforeAll(() => assertFreshBuild());

const tmr = tmrJson;
const boards = replicaFlags;

describe('a noisy line (bit-error rate 1e-3)', () => {
  it("toward the host: every corrupt frame is refused and counted, none is accepted, the trace is the simulation's up to any timing event", async () => {
    // 50 Hz (15 ms deadline): each tick crosses socat twice, and the noisy board's the noise proxy too.
    const common = ['--rate-hz', '50', '--ticks', '500', '--seed', '8'];
    const replicas = boards('sim-board', 'sim-board:ber=0.001,noise=to-host', 'sim-board');
    const command = `tmr run ${[...common, ...replicas].join(' ')}`;
    const { run } = await runAgainstSim(common, replicas, { label: 'noise toward the host', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(run.unsafeCommands, command).toBe(0);
    // About one output frame in six is damaged at this rate (warm-up included). How many in all
    // depends on when the board went out (three corrupt frames close together can do it, after
    // which only its idle heartbeats cross the line): three or more show the noise reached the host.
    expect(run.links[1]!.corruptFrames, `the noise damaged almost no frame: the test proves nothing (${command})`).toBeGreaterThanOrEqual(3);
    const noisy = run.replicas[1]!;
    const context = `${command}: ${JSON.stringify(noisy)}`;
    // The board's state never diverged (the noise only goes toward the host), so any accepted
    // corrupt frame would show as a disagreement or a digest mismatch.
    expect(noisy.counters.disagreements, `a corrupt frame was accepted (${context})`).toBe(0);
    expect(noisy.counters.digestMismatches, `a corrupt frame was accepted (${context})`).toBe(0);
    // Out, if out, for its corrupt frames, or for timing on a busy machine.
    expect([null, 'PROTOCOL_ERROR', 'DEADLINE_MISSED', 'LATE_REPLY'], context).toContain(noisy.reason);
    expectHealthyReplicas(run, [0, 2], command);
  });
});

describe('boards that do not match the host', () => {
  it.each([['pid-q16', 'e9d7a0fc'], ['tank', '0823d7ea']])('boards with another build of law %s or protocol v1 are refused, naming the board and both hashes or versions; the run does not start without them', async (law, hash) => {
    const args = ['run', '--law', law, '--ticks', '20', ...boards('sim-board:law-hash=123', 'sim-board:protocol-version=1', 'sim-board')];
    const command = `tmr ${args.join(' ')}`;
    const result = await runCli(args, { timeoutMs: 120_000 });
    expect(result.code, `${command}: ${result.stderr}`).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0], command).toMatch(/^tmr: cannot start: 2 of 3 replicas did not start; the start policy is 'full'/);
    expect(lines[1], command).toMatch(new RegExp(`^  replica 0 \\(sim-board pid \\d+\\): LAW_HASH_MISMATCH: sim-board/3 reports law hash 0x0000007b, the host's is 0x${hash}$`));
    expect(lines[2], command).toMatch(/^  replica 1 \(sim-board pid \d+\): PROTOCOL_VERSION_MISMATCH: sim-board\/3 speaks protocol v1, the host v3$/);
    // The matching board started: it is not named.
    expect(lines.length, command).toBe(3);
  });

  it('with --start-policy degraded and the simplex policy the matching board runs alone; the refusals are in the summary', async () => {
    const args = ['run', '--ticks', '20', '--start-policy', 'degraded', '--simplex-policy', 'simplex', ...boards('sim-board:law-hash=123', 'sim-board:protocol-version=1', 'sim-board')];
    const command = `tmr ${args.join(' ')}`;
    const run = await tmr<RealtimeSummary>(args);
    expect(run.replicas[0]!.reason, command).toBe('HANDSHAKE_REFUSED');
    expect(run.replicas[0]!.detail).toMatch(/^LAW_HASH_MISMATCH: replica 0 \(sim-board\) \(\S+sim-board-0\.host@115200\): sim-board\/3 reports law hash 0x0000007b, the host's is 0xe9d7a0fc$/);
    expect(run.replicas[1]!.reason, command).toBe('HANDSHAKE_REFUSED');
    expect(run.replicas[1]!.detail).toMatch(/^PROTOCOL_VERSION_MISMATCH: replica 1 \(sim-board\) \(\S+\): sim-board\/3 speaks protocol v1, the host v3$/);
    expect(run.replicaNames, command).toEqual(run.replicaPids.map((pid) => `sim-board pid ${pid}`));
    // The matching board was admitted (and only timing could take it out afterwards).
    expectHealthyReplicas(run, [2], command);
  });
});
