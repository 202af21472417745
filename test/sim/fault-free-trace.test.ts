/**
 * The comparison real-time tests use for "the trace is the fault-free one" (test/helpers/
 * fault-free-trace.ts), checked on simulation logs whose differences are known: it must pass a
 * difference that starts where replies went missing, and fail one with every reply on time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild, tmrJson } from '../helpers/cli.js';
import { compareWithFaultFree } from '../helpers/fault-free-trace.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-fault-free-test-'));
beforeAll(() => assertFreshBuild());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COMMON = ['--rate-hz', '100', '--ticks', '400', '--seed', '3'];

async function simLog(name: string, extra: string[]): Promise<string> {
  const path = join(dir, `${name}.tmrlog`);
  await tmrJson(['sim', ...COMMON, ...extra, '--log', path]);
  return path;
}

describe('compareWithFaultFree', () => {
  it('a run with a masked single fault is identical', async () => {
    const c = compareWithFaultFree(await simLog('crash', ['--inject', 'crash:1@100']), await simLog('free', []));
    expect(c).toMatchObject({ identical: true, firstDifferentTick: null, violation: null });
  });

  it('two replicas silent at once (what a machine stall looks like): a difference from the first held tick on is explained', async () => {
    const c = compareWithFaultFree(await simLog('silent', ['--inject', 'crash:1@200', '--inject', 'hang:2@200', '--simplex-policy', 'simplex']), await simLog('free', []));
    expect(c.identical).toBe(false);
    expect(c.firstInterventionTick).toBe(200);
    expect(c.firstDifferentTick!).toBeGreaterThanOrEqual(200);
    expect(c.violation).toBeNull();
  });

  it('two replicas wrong at once, every reply on time: a violation naming the tick', async () => {
    const c = compareWithFaultFree(await simLog('wrong', ['--inject', 'wrong:1@150', '--inject', 'wrong:2@150']), await simLog('free', []));
    expect(c.violation).toMatch(/^tick 150: a (held|safe) command with every in-service reply on time/);
  });

  it('a timing exclusion the simulation did not have is a named timing event: a difference after it is explained', async () => {
    // The run lost replica 2 to timing (a hang here; the machine, in a real run), so a wrong
    // replica 1 then meets a duplex and the loop goes safe, with every reply on time.
    const c = compareWithFaultFree(await simLog('lost-one', ['--inject', 'hang:2@100', '--inject', 'wrong:1@150']), await simLog('wrong-one', ['--inject', 'wrong:1@150']));
    expect(c.identical).toBe(false);
    expect(c.firstInterventionTick).toBe(102);
    expect(c.firstDifferentTick).toBe(150);
    expect(c.violation).toBeNull();
  });
});
