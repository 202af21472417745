/**
 * The black box at scale (issue 17): `tmr sim` writes a 10,000,000-tick log (about 14 h at
 * 200 Hz), then `tmr log` and `tmr replay` read it, each as its own process measured by GNU time
 * (elapsed wall time and peak resident set). Target: each reader's peak RSS ≤ 200 MB. Floors: a
 * Node process that does nothing (RSS), and `cat FILE > /dev/null` (the time to read the bytes).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infoRow, verdict, type ResultRow } from './bench-stats.js';

export const BLACK_BOX_SCALE_TICKS = 10_000_000;
export const READER_RSS_MB_MAX = 200;
/** Bounds on each step, so a hung reader fails the bench instead of stalling it. */
const STEP_TIMEOUT_MS = 20 * 60_000;

interface Timed {
  readonly wallS: number;
  readonly peakRssMb: number;
  readonly status: number | null;
}

/** Runs a command under GNU time (-f "%e %M": seconds, peak KB), its output discarded. */
function timed(command: string, args: readonly string[]): Timed {
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], { encoding: 'utf8', timeout: STEP_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
  const match = /TIME ([\d.]+) (\d+)\s*$/.exec(result.stderr ?? '');
  if (match === null) throw new Error(`${command} ${args.join(' ')}: no timing (${result.error?.message ?? result.stderr?.slice(-300)})`);
  return { wallS: Number(match[1]), peakRssMb: Number(match[2]) / 1024, status: result.status };
}

export interface BlackBoxScale {
  readonly ticks: number;
  readonly logBytes: number;
  readonly write: Timed;
  readonly log: Timed;
  readonly replay: Timed;
  readonly nodeFloor: Timed;
  readonly catFloor: Timed;
}

export function measureBlackBoxScale(cli: string, ticks = BLACK_BOX_SCALE_TICKS): BlackBoxScale {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-bench-bbx-'));
  try {
    const path = join(dir, 'big.bbx');
    const write = timed(process.execPath, [cli, 'sim', '--ticks', String(ticks), '--inject', 'wrong:1@1000+100', '--log', path]);
    if (write.status !== 0) throw new Error(`tmr sim --ticks ${ticks} --log exited ${write.status}`);
    const log = timed(process.execPath, [cli, 'log', path]);
    const replay = timed(process.execPath, [cli, 'replay', path]);
    if (log.status !== 0 || replay.status !== 0) throw new Error(`tmr log exited ${log.status}, tmr replay ${replay.status} on a ${ticks}-tick log`);
    const nodeFloor = timed(process.execPath, ['-e', '0']);
    const catFloor = timed('cat', [path]);
    return { ticks, logBytes: statSync(path).size, write, log, replay, nodeFloor, catFloor };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function blackBoxScaleRows(s: BlackBoxScale): ResultRow[] {
  const section = `black box at ${s.ticks.toLocaleString('en-US')} ticks (${(s.logBytes / 1e6).toFixed(0)} MB log)`;
  const rss = (name: string, t: Timed): ResultRow => ({
    section,
    metric: `${name}: peak RSS`,
    measured: t.peakRssMb,
    unit: 'MB',
    floor: s.nodeFloor.peakRssMb,
    ratio: t.peakRssMb / s.nodeFloor.peakRssMb,
    target: `≤ ${READER_RSS_MB_MAX} MB`,
    verdict: verdict(t.peakRssMb <= READER_RSS_MB_MAX),
  });
  return [
    infoRow(section, 'tmr sim --log: wall time', s.write.wallS, 's'),
    infoRow(section, 'tmr sim --log: peak RSS', s.write.peakRssMb, 'MB', s.nodeFloor.peakRssMb),
    rss('tmr log', s.log),
    infoRow(section, 'tmr log: wall time (floor: cat FILE)', s.log.wallS, 's', s.catFloor.wallS),
    rss('tmr replay', s.replay),
    infoRow(section, 'tmr replay: wall time (floor: cat FILE)', s.replay.wallS, 's', s.catFloor.wallS),
  ];
}
