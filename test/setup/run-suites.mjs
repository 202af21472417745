#!/usr/bin/env node
/**
 * npm test's two vitest projects at once: the unit suite (CPU-bound: property tests, deterministic
 * simulations, campaigns) and the real-time suite (real processes, ptys and emulators, mostly
 * waiting on real time). The real-time suite asserts only what holds on a loaded machine (CI runs it
 * beside two busy loops), so sharing the cores with the unit suite costs it nothing it asserts,
 * and npm test takes as long as the longer of the two instead of their sum.
 *
 * The unit suite runs at a lower priority (nice UNIT_NICE, inherited by its workers and the
 * processes they start), as a control system's background work does: on a quiet machine it still
 * has every idle cycle, and the real-time suite competes with it no more than with any other load
 * (CI adds two busy loops at the normal priority).
 *
 * Each line is printed as it comes, prefixed with its suite; the exit code is the first non-zero
 * of the two. Both suites are stopped, by process group, if this script is interrupted.
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';

const SUITES = ['unit', 'realtime'];
const UNIT_NICE = 10;
const vitest = new URL('../../node_modules/vitest/vitest.mjs', import.meta.url).pathname;
const children = [];

function run(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vitest, 'run', '--project', project], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so an interrupt stops vitest and every worker and replica under it.
      detached: true,
      env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
    });
    children.push(child);
    // Before vitest starts its workers (they inherit it): the spawn has only just begun.
    if (project === 'unit') setPriority(child.pid, UNIT_NICE);
    const prefix = `[${project}]`.padEnd(11);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix}${line}\n`));
    }
    child.on('exit', (code, signal) => {
      process.stdout.write(`${prefix}vitest --project ${project} ${signal === null ? `exited ${code}` : `stopped by ${signal}`}\n`);
      resolve(code ?? 1);
    });
  });
}

function stopAll(signal) {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
process.once('SIGINT', () => stopAll('SIGINT'));
process.once('SIGTERM', () => stopAll('SIGTERM'));

const started = Date.now();
const codes = await Promise.all(SUITES.map(run));
process.stdout.write(`npm test: ${SUITES.map((s, i) => `${s} ${codes[i] === 0 ? 'passed' : `FAILED (exit ${codes[i]})`}`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.exit(codes.find((c) => c !== 0) ?? 0);
