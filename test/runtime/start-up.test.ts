/**
 * How `tmr run` starts (issue 17, items 5 and 13): the start-up policy, and every replica named by
 * what it is. A run used to start with whatever answered its handshake, none at all included
 * (commanding SAFE every tick and exiting 0); now the default policy refuses to start without the
 * full set, exit 1, naming each replica that did not start and why, and `--start-policy degraded`
 * starts with fewer, but never with too few for the loop to command anything but SAFE. A serial
 * board was an empty slot in messages (`pids , 28576, 28577`, `(pid -)`); it is named by its port.
 *
 * The ports: a pseudo-terminal pair with nothing on the far end (a board that never answers), a
 * path that does not exist (a board that is not plugged in), and a simulated board the test
 * starts itself on a pair, which the run opens as a plain serial port.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PtyPair } from '../../firmware-sim/pty-pair.js';
import { SimBoard } from '../../firmware-sim/sim-board.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { assertFreshBuild, childPids, replicaFlags, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-start-up-'));
const silent: PtyPair[] = [];
beforeAll(async () => {
  assertFreshBuild();
  // Three ports nobody answers on.
  for (let i = 0; i < 3; i++) silent.push(await PtyPair.open({ name: `silent-${i}` }));
});
afterAll(async () => {
  for (const pair of silent) await pair.stop();
  rmSync(dir, { recursive: true, force: true });
});

const MISSING = '/dev/tmr-no-such-port';
/** The CLI's handshake timeout: a board that never answers is given up after it. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Generous for a run whose handshakes wait the full timeout on a busy machine. */
const RUN_TIMEOUT_MS = 120_000;

describe('the start-up policy (issue 17, item 5)', () => {
  it('by default a run refuses to start without every replica: exit 1, each one that did not start named by its port with why, nothing commanded', async () => {
    const port = silent[0]!.hostPath;
    const args = ['run', '--ticks', '50', ...replicaFlags(`serial:${port}`, 'node', `serial:${MISSING}`)];
    const result = await runCli(args, { timeoutMs: RUN_TIMEOUT_MS });
    const context = `tmr ${args.join(' ')}: ${result.stderr}`;
    expect(result.code, context).toBe(1);
    expect(result.stderr, context).toMatch(/^tmr: cannot start: 2 of 3 replicas did not start; the start policy is 'full'/);
    expect(result.stderr, context).toContain(`replica 0 (${port}): NO_ANSWER: no answer within ${HANDSHAKE_TIMEOUT_MS} ms`);
    expect(result.stderr, context).toMatch(new RegExp(`replica 2 \\(${MISSING}\\): START_FAILED: .*cannot open ${MISSING}: no such port`));
    expect(result.stderr, context).not.toContain('replica 1 (');
    expect(result.stderr, context).not.toContain('replicas ready');
    expect(result.stdout, 'a refused start prints no run summary').toBe('');
  }, RUN_TIMEOUT_MS);

  it('no replica answering is exit 1 under either policy, each named', async () => {
    const ports = silent.map((p) => p.hostPath);
    for (const policy of [[], ['--start-policy', 'degraded']]) {
      const args = ['run', '--ticks', '50', ...policy, ...replicaFlags(...ports.map((p) => `serial:${p}`))];
      const result = await runCli(args, { timeoutMs: RUN_TIMEOUT_MS });
      const context = `tmr ${args.join(' ')}: ${result.stderr}`;
      expect(result.code, context).toBe(1);
      for (const [i, port] of ports.entries()) expect(result.stderr, context).toContain(`replica ${i} (${port}): NO_ANSWER: no answer within ${HANDSHAKE_TIMEOUT_MS} ms`);
      expect(result.stdout, context).toBe('');
    }
  }, 2 * RUN_TIMEOUT_MS);

  it('--start-policy degraded starts with a majority and says who is missing; with one replica left it needs --simplex-policy simplex', async () => {
    const args = ['run', '--ticks', '50', '--start-policy', 'degraded', '--json', ...replicaFlags('node', `serial:${MISSING}`, 'node')];
    const result = await runCli(args, { timeoutMs: RUN_TIMEOUT_MS });
    const context = `tmr ${args.join(' ')}: ${result.stderr}`;
    expect(result.code, context).toBe(0);
    const run = JSON.parse(result.stdout) as RealtimeSummary;
    expect(run.replicas[1], context).toMatchObject({ state: 'excluded', excludedTick: 0, reason: 'HANDSHAKE_REFUSED' });
    expect(run.replicas[1]!.detail, context).toMatch(new RegExp(`^START_FAILED: .*cannot open ${MISSING}: no such port`));
    // It starts in duplex (what a busy machine does to the two afterwards is not asserted here).
    expect(run.modeHistory.filter((m) => m.tick === 0).at(-1)?.mode, context).toBe('duplex');
    expect(result.stderr, context).toMatch(new RegExp(`2 of 3 replicas ready \\(replica 0: pid \\d+, replica 1: ${MISSING} \\(out\\), replica 2: pid \\d+\\)`));

    const lone = ['run', '--ticks', '50', '--start-policy', 'degraded', ...replicaFlags('node', `serial:${MISSING}`, `serial:${MISSING}-2`)];
    const refused = await runCli(lone, { timeoutMs: RUN_TIMEOUT_MS });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/^tmr: cannot start: 1 of 3 replicas answered, too few for the loop to command anything but the safe state \(the start policy 'degraded' needs at least 2 with the simplex policy 'safe'\)/);
    const simplex = await runCli([...lone, '--simplex-policy', 'simplex', '--json'], { timeoutMs: RUN_TIMEOUT_MS });
    expect(simplex.code, simplex.stderr).toBe(0);
    expect((JSON.parse(simplex.stdout) as RealtimeSummary).modeHistory.filter((m) => m.tick === 0).map((m) => m.mode)).toContain('simplex');
  }, 3 * RUN_TIMEOUT_MS);

  it('the policy can be given in a config file, and tmr sim refuses it', async () => {
    const config = join(dir, 'degraded.json');
    writeFileSync(config, JSON.stringify({ ticks: 30, startPolicy: 'degraded', replicas: ['node', `serial:${MISSING}`, 'node'] }));
    const run = await runCli(['run', '--config', config], { timeoutMs: RUN_TIMEOUT_MS });
    expect(run.code, run.stderr).toBe(0);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ startPolicy: 'some' }));
    const refused = await runCli(['run', '--config', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("startPolicy must be 'full' or 'degraded'");
    const sim = await runCli(['sim', '--start-policy', 'degraded']);
    expect(sim.code).toBe(2);
    expect(sim.stderr).toContain('tmr sim does not take --start-policy');
  }, 2 * RUN_TIMEOUT_MS);
});

describe('an interrupt during start-up', () => {
  it('SIGINT while a handshake waits ends the run before tick 0, exit 130: it does not wait out the handshake, nor hold the silence against the replica', async () => {
    const args = ['run', '--ticks', '50', '--json', ...replicaFlags(`serial:${silent[0]!.hostPath}`, 'node', 'node')];
    let voter: ChildProcess | undefined;
    const run = runCli(args, { timeoutMs: RUN_TIMEOUT_MS, onSpawn: (child) => (voter = child) });
    // Inside start-up: its replica processes are started (so its handlers are in place), and the
    // silent port's handshake waits 10 s. Bounded by the run's own timeout.
    for (let i = 0; i < RUN_TIMEOUT_MS / 50 && childPids(voter!.pid!).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    process.kill(voter!.pid!, 'SIGINT');
    const result = await run;
    const context = `tmr ${args.join(' ')}: ${result.stderr}`;
    expect(result.code, context).toBe(130);
    expect(result.stderr, context).not.toContain('replicas ready');
    expect(result.stderr, context).not.toContain('cannot start');
    const summary = JSON.parse(result.stdout) as RealtimeSummary;
    expect(summary.interrupted, context).toBe(true);
    expect(summary.ticks, context).toBe(0);
    expect(summary.replicas.map((r) => r.state), context).toEqual(['inService', 'inService', 'inService']);
  }, RUN_TIMEOUT_MS);
});

describe('replicas named by what they are (issue 17, item 13)', () => {
  it('a serial board is named by its port, a process by its pid, in the ready line, the recovery lines and the summary', async () => {
    const board = await SimBoard.start({ name: 'named-board' });
    try {
      const port = board.hostPath;
      const args = ['run', '--ticks', '400', '--recover', '--inject', 'crash:0@100', ...replicaFlags(`serial:${port}`, 'node', 'node')];
      const result = await runCli(args, { timeoutMs: RUN_TIMEOUT_MS });
      const context = `tmr ${args.join(' ')}: ${result.stderr}`;
      expect(result.code, context).toBe(0);
      expect(result.stderr, context).toMatch(new RegExp(`3 of 3 replicas ready \\(replica 0: ${port}, replica 1: pid \\d+, replica 2: pid \\d+\\)`));
      // The crash takes the board out (it reboots): every recovery line names it by its port.
      const lines = result.stderr.split('\n').filter((l) => /: tick \d+: replica 0 /.test(l));
      expect(lines.length, context).toBeGreaterThan(0);
      for (const line of lines) expect(line, context).toMatch(new RegExp(`\\(${port}\\)$`));
      expect(result.stderr, context).not.toMatch(/\(pid -\)|pids ,|, ,/);
      expect(result.stdout, context).toMatch(new RegExp(`^replica 0 \\(${port}\\): `, 'm'));
      expect(result.stdout, context).toMatch(/^replica 1 \(pid \d+\): /m);

      const json = await runCli(['run', '--ticks', '30', '--json', ...replicaFlags(`serial:${port}`, 'node', 'node')], { timeoutMs: RUN_TIMEOUT_MS });
      expect(json.code, json.stderr).toBe(0);
      const summary = JSON.parse(json.stdout) as RealtimeSummary;
      expect(summary.replicaNames[0]).toBe(port);
      expect(summary.replicaNames[1]).toMatch(/^pid \d+$/);
    } finally {
      await board.stop();
    }
  }, 2 * RUN_TIMEOUT_MS);
});
