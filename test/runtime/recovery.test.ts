/**
 * Recovery with real processes, through the compiled CLI as a user runs it: a corrupted state
 * transfer is caught on probation and the replica is never counted in a vote again. What is
 * asserted holds whatever the scheduler does. The timing claims of recovery (the restart limit
 * reached in a given run, an emulated Uno back within 10 ticks, recovery under fire) are in
 * test/soak/, npm run soak.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedLaw } from '../../src/law/law-loader.js';
import { readBlackBox } from '../../src/loop/black-box-reader.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { replayBlackBox } from '../../src/loop/replay.js';
import { assertFreshBuild, replicaFlags, TEST_HOOKS_ENV, tmrJson } from '../helpers/cli.js';
import { timingFigure } from '../helpers/timing-figure.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-recovery-'));
beforeAll(() => assertFreshBuild());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state transfer (issue 6, item 3)', () => {
  it('a replica restarted with a corrupted state is caught on probation and never counted in a vote', async () => {
    const log = join(dir, 'corrupt.tmrlog');
    // --simplex-policy simplex: should a busy machine take replica 0 out too, the lone survivor
    // still commands, so it can still give its state (recovery takes state only from a commanding
    // replica, and in the safe policy a lone one commands nothing).
    const args = ['run', '--recover', '--simplex-policy', 'simplex', '--ticks', '1200', ...replicaFlags('node', 'node-test:corrupt-state=1', 'node'), '--inject', 'crash:1@200', '--log', log];
    const run = await tmrJson<RealtimeSummary>(args, 60_000, TEST_HOOKS_ENV);
    const context = `tmr ${args.join(' ')}: ${JSON.stringify(run.recovery)}`;
    expect(run.unsafeCommands).toBe(0);
    const r = run.recovery!;
    // A corrupted state never agrees with the majority's digest: replica 1 can never be re-admitted
    // (another replica a busy machine took out may be, and is not this test's business).
    expect(r.records.filter((x) => x.replica === 1 && x.readmittedTick !== null), context).toEqual([]);
    expect(r.replicas[1]!.phase, context).not.toBe('serving');
    const contents = readBlackBox(log);
    const started = contents.ticks.filter((t) => t.events.some(([kind, replica]) => kind === 'probationStarted' && replica === 1));
    // At least one state transfer happened (1,000 ticks leave room for several, whatever the machine).
    expect(started.length, context).toBeGreaterThanOrEqual(1);
    // Never in service again once it had been given a state.
    expect(contents.ticks.filter((t) => t.tick >= started[0]!.tick && (t.inServiceMask & 0b010) !== 0), context).toEqual([]);
    // Every probation ended for its digest, or for its timing when the machine made it late first.
    for (const p of r.records.filter((x) => x.context === 'probation')) expect(['DIGEST_MISMATCH', 'DEADLINE_MISSED', 'LATE_REPLY'], context).toContain(p.reason);
    // Caught at its first probation tick: a figure (a reply the machine delays moves it a tick on).
    const caughtAtOnce = started.filter((t) => t.events.some(([kind, replica, reason]) => kind === 'replicaExcluded' && replica === 1 && reason === 'DIGEST_MISMATCH')).length;
    timingFigure('probations not ended by the digest at their first tick', started.length - caughtAtOnce, 0, r.records);
    expect(replayBlackBox(contents, shippedLaw('pid-q16')).mismatchCount).toBe(0);
  }, 120_000);
});
