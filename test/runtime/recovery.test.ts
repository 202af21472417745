/**
 * Acceptance of recovery (issue 6, items 1–3) with real processes and emulated boards, through
 * the compiled CLI as a user runs it: replicas killed from outside come back, re-synchronised and
 * on probation, and the voted trace is the fault-free one; a replica that keeps failing is put
 * out for good; a corrupted state transfer is caught on probation and never counted.
 */
import { shippedLaw } from '../../src/law/law-loader.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/cli/report.js';
import { readBlackBox } from '../../src/runtime/black-box.js';
import type { RunSummary } from '../../src/runtime/loop-model.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { replayBlackBox } from '../../src/runtime/replay.js';
import { assertFreshBuild, killTree, replicaFlags, runCli, tmrJson, type CliResult } from '../helpers/cli.js';
import { compareWithFaultFree, runAgainstSim, runUntilFaultFree } from '../helpers/fault-free-trace.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-recovery-'));
beforeAll(() => assertFreshBuild());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RATE_HZ = 200;
const PROBATION_TICKS = 50;
const RECOVERY_BOUND_MS = 250 + (PROBATION_TICKS * 1000) / RATE_HZ;
const KILL_PERIOD_MS = 2_000;
/**
 * The default (safe) policy. A restart limit of 10 in 5 s: the default 3 in 5 s puts out a
 * replica the seeded draw happens to kill three times in 4 s (the user here kills at random);
 * that limit has its own test below.
 */
const UNDER_FIRE_FLAGS = ['--recover', '--restart-limit', '10/5000'];

interface Kill {
  readonly replica: number;
  readonly pid: number;
  /** The tick the runtime excluded it at (from its stderr line), and the tick it was re-admitted at. */
  excludedTick: number | null;
  readmittedTick: number | null;
}

/**
 * `tmr run --recover` for `seconds` at 200 Hz while a user SIGKILLs a random replica process every
 * 2 s from outside. Who is replica i now is read from the runtime's stderr lines (a restart
 * replaces the process), so every victim is a replica in the vote, never a standby.
 */
async function runUnderFire(seconds: number, seed: number, log: string): Promise<{ result: CliResult; kills: Kill[] }> {
  const kills: Kill[] = [];
  const pids: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stderr = '';
  const random = mulberry(seed);
  const result = await runCli(['run', ...UNDER_FIRE_FLAGS, '--rate-hz', String(RATE_HZ), '--ticks', String(seconds * RATE_HZ), '--seed', String(seed), '--log', log, '--json'], {
    timeoutMs: (seconds + 60) * 1000,
    onSpawn: (child) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        let newline: number;
        while ((newline = stderr.indexOf('\n')) >= 0) {
          const line = stderr.slice(0, newline);
          stderr = stderr.slice(newline + 1);
          const ready = /replicas ready \(pids (\d+), (\d+), (\d+)\)/.exec(line);
          if (ready !== null) {
            pids.push(Number(ready[1]), Number(ready[2]), Number(ready[3]));
            const readyMs = performance.now();
            timer = setInterval(() => {
              // The last kill leaves the victim time to come back before the run ends.
              if (performance.now() - readyMs > seconds * 1000 - 2 * RECOVERY_BOUND_MS) return;
              const replica = Math.floor(random() * 3);
              const pid = pids[replica]!;
              try {
                process.kill(pid, 'SIGKILL');
                kills.push({ replica, pid, excludedTick: null, readmittedTick: null });
              } catch (error) {
                console.info(`kill of replica ${replica} (pid ${pid}) failed: ${(error as NodeJS.ErrnoException).code}`);
              }
            }, KILL_PERIOD_MS);
          }
          const event = /tick (\d+): replica (\d) (excluded|restarted and re-synchronised, on probation|re-admitted to the vote).*\(pid (\d+)\)/.exec(line);
          if (event === null) continue;
          const [tick, replica, what, pid] = [Number(event[1]), Number(event[2]), event[3]!, Number(event[4])];
          if (what.startsWith('restarted')) pids[replica] = pid;
          const kill = [...kills].reverse().find((k) => k.replica === replica);
          if (kill === undefined) continue;
          if (what === 'excluded' && kill.excludedTick === null) kill.excludedTick = tick;
          if (what.startsWith('re-admitted') && kill.readmittedTick === null) kill.readmittedTick = tick;
        }
      });
    },
  });
  clearInterval(timer);
  for (const pid of pids) killTree(pid);
  return { result, kills };
}

/** A small seeded PRNG for the victims: a failing run names its seed and replays the same choices. */
function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('recovery under fire (issue 6, item 1)', () => {
  const SECONDS = 60;
  /**
   * The voted trace must be the fault-free run's, tick for tick. What used to break it on this
   * shared 2-core VM: a stall that made two replicas late in one tick (measured: a booting standby
   * set it off, whatever its priority), or one survivor late while a victim was out; the voter held
   * its last command and the plant left the fault-free path (0–16 held per run). The quorum grace
   * (realtime-runner) now waits for those replies instead. A stall longer than the grace can still
   * hold a command, so a disturbed run is repeated once, and one of the two must be identical.
   */
  const ATTEMPTS_MAX = 2;

  it(`a 60 s run at 200 Hz with a replica SIGKILLed from outside every 2 s: each victim is back in the vote within 250 ms + probation, no unsafe command, the fault-free trace`, async () => {
    const seed = 6;
    const simLog = join(dir, 'under-fire-sim.tmrlog');
    await tmrJson<RunSummary>(['sim', '--rate-hz', String(RATE_HZ), '--ticks', String(SECONDS * RATE_HZ), '--seed', String(seed), '--log', simLog]);
    const replay = `node dist/src/cli/tmr.js run ${UNDER_FIRE_FLAGS.join(' ')} --rate-hz ${RATE_HZ} --ticks ${SECONDS * RATE_HZ} --seed ${seed} (victims drawn with seed ${seed})`;
    await runUntilFaultFree(ATTEMPTS_MAX, `under fire: ${replay}`, async (attempt) => {
      const log = join(dir, `under-fire-${attempt}.tmrlog`);
      const { result, kills } = await runUnderFire(SECONDS, seed, log);
      expect(result.code, `${replay}\n${result.stderr}`).toBe(0);
      const run = JSON.parse(result.stdout) as RealtimeSummary;
      expect(run.unsafeCommands).toBe(0);
      expect(kills.length, `kills sent; replicas: ${JSON.stringify(run.recovery?.replicas)}`).toBeGreaterThanOrEqual(SECONDS / (KILL_PERIOD_MS / 1000) - 2);
      for (const kill of kills) {
        expect(kill.excludedTick, `replica ${kill.replica} (pid ${kill.pid}) was never excluded`).not.toBeNull();
        expect(kill.readmittedTick, `replica ${kill.replica} (pid ${kill.pid}) killed, excluded at ${kill.excludedTick}, never re-admitted`).not.toBeNull();
        // Back in the vote: counted from the tick after its re-admission. Ticks are real time here.
        const recoveryMs = ((kill.readmittedTick! + 1 - kill.excludedTick!) * 1000) / RATE_HZ;
        expect(recoveryMs, `replica ${kill.replica} excluded at tick ${kill.excludedTick}`).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
      }
      // Every victim came back; a survivor the machine stalled past its deadlines may also have
      // been excluded and brought back (more re-admissions than kills), which is recovery too.
      expect(run.recovery!.readmissions).toBeGreaterThanOrEqual(kills.length);
      expect(run.replicas.every((r) => r.state === 'inService' || r.state === 'probation')).toBe(true);
      // The log of this run replays bit for bit, probations and re-admissions included, and replay
      // checked every voted command against the control law.
      const report = replayBlackBox(readBlackBox(log), shippedLaw('pid-q16'));
      expect(report.mismatchCount, JSON.stringify(report.mismatches)).toBe(0);
      expect(report.votedChecked).toBe(run.commands.voted);
      console.info(`under fire attempt ${attempt}: ${kills.length} kills, recovery median ${run.recovery!.recoveryTicksMedian} ticks, worst ${run.recovery!.recoveryTicksMax} ticks (probation ${PROBATION_TICKS}); ${run.commands.held} held; quorum grace voted ${run.timing.quorumGraceVoted} of ${run.timing.quorumGraceTicks} ticks`);
      return { value: run, comparison: compareWithFaultFree(log, simLog) };
    }, { requireIdentical: true });
  }, 400_000);
});

describe('restart limit and state transfer (issue 6, items 2 and 3)', () => {
  /** Runs tried when a machine stall also took out a healthy replica (a second fault, not this test's). */
  const PREMISE_ATTEMPTS_MAX = 3;

  it('a replica that crashes as soon as it is re-admitted is put out for good after the restart limit; the run goes on in duplex', async () => {
    // Crashes 50 ticks after each state transfer: the tick after its 50th agreeing probation tick.
    const args = ['run', '--recover', '--probation-ticks', '50', '--restart-limit', '3/5000', '--ticks', '1600', ...replicaFlags('node', 'node:crash-after-state=50', 'node'), '--inject', 'crash:1@200'];
    // Premise: only replica 1 fails. A machine stall that also takes out a healthy replica while
    // replica 1 is out is a second fault: the loop then goes to the (latched) safe state, nobody
    // can give replica 1 its state, and this run shows nothing about the restart limit. Run again.
    const othersFailed = (x: RealtimeSummary): boolean => x.recovery!.records.some((rec) => rec.replica !== 1);
    let run = await tmrJson<RealtimeSummary>(args, 60_000);
    for (let n = 2; othersFailed(run) && n <= PREMISE_ATTEMPTS_MAX; n++) {
      console.info(`restart-limit run: a healthy replica was also excluded (${JSON.stringify(run.recovery!.records.filter((rec) => rec.replica !== 1))}); running again`);
      run = await tmrJson<RealtimeSummary>(args, 60_000);
    }
    expect(othersFailed(run), `in ${PREMISE_ATTEMPTS_MAX} runs a healthy replica was always excluded too: tmr ${args.join(' ')}`).toBe(false);
    expect(run.unsafeCommands).toBe(0);
    const r = run.recovery!;
    expect(r.readmissions, 'it was re-admitted before it crashed again').toBeGreaterThanOrEqual(1);
    expect(r.replicas[1], `records: ${JSON.stringify(r.records)}; mode history ${JSON.stringify(run.modeHistory)}`).toMatchObject({ phase: 'retired', retired: 'RESTART_LIMIT', restarts: 3 });
    expect(r.replicas[1]!.detail).toMatch(/3 restarts within 1000 ticks \(the limit is 3\)/);
    expect(run.replicas[1]!.state).toBe('excluded');
    expect(run.finalMode).toBe('duplex');
    expect(run.commands.safe).toBe(0);
    // Each crash came right after a re-admission: the back-off grew.
    const restartDelays = r.records.filter((x) => x.restartTick !== null).map((x) => x.restartTick! - x.excludedTick);
    expect(restartDelays[0]).toBe(1);
    expect(Math.max(...restartDelays)).toBeGreaterThan(restartDelays[0]!);
    // The text summary of this same run (tmr run without --json prints formatSummary's text). A
    // second real-time run here could meet a stall of its own and prove nothing (seen in CI).
    expect(formatSummary(run, 'tmr run')).toMatch(/replica 1: excluded at tick \d+: LINK_DOWN .*OUT FOR GOOD: RESTART_LIMIT/);
  }, 120_000);

  it('a replica restarted with a corrupted state is caught on probation and never counted in a vote', async () => {
    const log = join(dir, 'corrupt.tmrlog');
    const run = await tmrJson<RealtimeSummary>(
      ['run', '--recover', '--ticks', '1200', ...replicaFlags('node', 'node:corrupt-state=1', 'node'), '--inject', 'crash:1@200', '--log', log],
      60_000,
    );
    expect(run.unsafeCommands).toBe(0);
    const r = run.recovery!;
    const probations = r.records.filter((x) => x.context === 'probation');
    expect(probations.length).toBeGreaterThanOrEqual(1);
    for (const p of probations) expect(p.reason).toBe('DIGEST_MISMATCH');
    expect(r.readmissions).toBe(0);
    expect(r.replicas[1]!.retired).toBe('RESTART_LIMIT');
    const contents = readBlackBox(log);
    const started = contents.ticks.filter((t) => t.events.some(([kind, replica]) => kind === 'probationStarted' && replica === 1));
    expect(started.length).toBe(3);
    // Caught at its first probation tick every time, and never in service after the crash.
    for (const t of started) expect(t.events).toContainEqual(['replicaExcluded', 1, 'DIGEST_MISMATCH']);
    expect(contents.ticks.filter((t) => t.tick > 200 && (t.inServiceMask & 0b010) !== 0)).toEqual([]);
    expect(replayBlackBox(contents, shippedLaw('pid-q16')).mismatchCount).toBe(0);
  }, 120_000);
});

describe('an emulated Uno is reset and re-admitted', () => {
  it('firmware crash (watchdog reboot): excluded, reset, re-synchronised, on probation, back in TMR; the fault-free trace', async () => {
    const args = ['--recover', '--rate-hz', '50', '--ticks', '500', '--seed', '4'];
    // One attempt: a held command (a late reply in duplex) must come after the trace matched the fault-free one.
    const { last: run } = await runAgainstSim(args, [...replicaFlags('avr-sim', 'avr-sim', 'avr-sim'), '--inject', 'crash:1@100'], { attemptsMax: 1, label: 'avr-sim recovery', runTmr: (a) => tmrJson<RealtimeSummary>(a, 120_000) });
    expect(run.unsafeCommands).toBe(0);
    const record = run.recovery!.records[0]!;
    expect(record).toMatchObject({ replica: 1, outcome: 'readmitted' });
    expect(run.modeHistory.map((m) => m.mode)).toEqual(['tmr', 'duplex', 'tmr']);
    // Reset, boot (the firmware runs its 256-step law self-test), handshake and transfer: measured
    // 7 ticks (140 ms) at 50 Hz; bounded at 10. Then 50 ticks of probation.
    expect(record.probationTick! - record.excludedTick).toBeLessThanOrEqual(10);
    expect(record.readmittedTick! - record.probationTick!).toBe(PROBATION_TICKS - 1);
  }, 180_000);
});
