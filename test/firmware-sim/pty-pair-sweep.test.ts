/**
 * The pty directories a killed process leaves behind (issue 17, item 12): each is named by its
 * owner's PID and start time, and a sweep removes those whose owner is gone, and only those.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime, sweepStalePtyDirectories } from '../../firmware-sim/pty-pair.js';

const parents: string[] = [];
afterEach(() => {
  for (const dir of parents.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function makeDir(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  // What a pair leaves: two links to ttys that are gone.
  symlinkSync('/dev/pts/999999', join(dir, 'board-0.host'));
  symlinkSync('/dev/pts/999998', join(dir, 'board-0.board'));
  return dir;
}

describe('stale pty directories', () => {
  it('removes those whose owner is dead or whose PID now names another process; keeps live owners, its own and names it does not know', () => {
    const parent = mkdtempSync(join(tmpdir(), 'tmr-sweep-test-'));
    parents.push(parent);
    // A process that has ended (its PID is not reused within this test on any sane system).
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(ended.stdout);
    expect(Number.isInteger(deadPid) && deadPid > 0).toBe(true);
    expect(processStartTime(deadPid)).toBeNull();
    const parentStart = processStartTime(process.ppid);
    const ownStart = processStartTime(process.pid);
    expect(parentStart).not.toBeNull();
    expect(ownStart).not.toBeNull();

    const dead = makeDir(parent, `tmr-pty-${deadPid}.12345-AbC123`);
    const reused = makeDir(parent, `tmr-pty-${process.ppid}.${Number(parentStart) + 1}-XyZ789`);
    const live = makeDir(parent, `tmr-pty-${process.ppid}.${parentStart}-QwE456`);
    const own = makeDir(parent, `tmr-pty-${process.pid}.${ownStart}-RtY012`);
    const legacy = makeDir(parent, 'tmr-pty-UiO345');
    const other = makeDir(parent, 'not-ours-123');

    const removed = sweepStalePtyDirectories(parent);
    expect(removed.sort()).toEqual([`tmr-pty-${deadPid}.12345-AbC123`, `tmr-pty-${process.ppid}.${Number(parentStart) + 1}-XyZ789`].sort());
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(reused)).toBe(false);
    for (const kept of [live, own, legacy, other]) expect(existsSync(kept), kept).toBe(true);
    // Idempotent: nothing more to remove.
    expect(sweepStalePtyDirectories(parent)).toEqual([]);
  });

  it('never throws for a parent it cannot read', () => {
    expect(sweepStalePtyDirectories(join(tmpdir(), 'tmr-no-such-directory-for-sweep'))).toEqual([]);
  });
});
