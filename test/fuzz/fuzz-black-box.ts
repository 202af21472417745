/**
 * Standalone damage fuzz of the black-box log (issue 17): every single-bit flip and every
 * truncation point of a 2,000-tick log, and seeded rewrites of records with valid CRCs and a
 * malformed payload. The unit suite runs a sample (test/loop/black-box-damage.test.ts).
 *
 *   npm run fuzz:log -- [--ticks N] [--seed N] [--mutations N]
 *
 * What must hold is written in test/fuzz/black-box-damage.ts. On the first violation it prints
 * the violation, the seed and a one-line replay command, and exits 1.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { checkCut, checkFlip, checkMutation, closeDamage, openForDamage, restore, writeFuzzLog } from './black-box-damage.js';

const { values } = parseArgs({
  options: { ticks: { type: 'string', default: '2000' }, seed: { type: 'string' }, mutations: { type: 'string', default: '20000' } },
});
const ticks = Number(values.ticks);
const mutations = Number(values.mutations);
const seed = values.seed === undefined ? randomInt(0, 2 ** 31) : Number(values.seed);
if (!Number.isInteger(ticks) || ticks < 1 || ticks > 100_000) throw new Error('--ticks must be 1..100000');
if (!Number.isInteger(mutations) || mutations < 0 || mutations > 10_000_000) throw new Error('--mutations must be 0..10000000');
if (!Number.isInteger(seed) || seed < 0) throw new Error('--seed must be a whole number');

const dir = mkdtempSync(join(tmpdir(), 'tmr-fuzz-log-'));
let failed = false;
function violation(what: string): void {
  failed = true;
  process.stdout.write(`VIOLATION: ${what}\nseed ${seed}; replay: npm run fuzz:log -- --ticks ${ticks} --seed ${seed} --mutations ${mutations}\n`);
}

try {
  const started = performance.now();
  const log = writeFuzzLog(dir, ticks);
  const bits = log.bytes.length * 8;
  process.stdout.write(`fuzz:log: a ${ticks}-tick log of ${log.bytes.length} bytes, ${log.offsets.length} records; seed ${seed}\n`);
  const fd = openForDamage(log);
  try {
    let t = performance.now();
    for (let bit = 0; bit < bits && !failed; bit++) {
      const v = checkFlip(log, fd, bit);
      if (v !== null) violation(v);
    }
    process.stdout.write(`  every single-bit flip: ${bits} logs, each damage at its record, in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    t = performance.now();
    for (let cut = log.bytes.length - 1; cut >= 0 && !failed; cut--) {
      const v = checkCut(log, fd, cut);
      if (v !== null) violation(v);
    }
    restore(log);
    process.stdout.write(`  every truncation: ${log.bytes.length} logs, each a torn tail or whole, in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  } finally {
    closeDamage(fd);
    restore(log);
  }
  const t = performance.now();
  const scratch = join(dir, 'mutated.bbx');
  for (let i = 0; i < mutations && !failed; i++) {
    // Every record in turn (the header and the end record often), each rewrite from its own seed.
    const k = i % 10 === 0 ? 0 : i % 10 === 1 ? log.offsets.length - 1 : (i * 7919) % log.offsets.length;
    const v = checkMutation(log, scratch, k, (seed + i) >>> 0);
    if (v !== null) violation(v);
  }
  process.stdout.write(`  rewrites with valid CRCs: ${mutations}, each damage or a named error, in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`fuzz:log: ${failed ? 'FAILED' : 'passed'} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
