/**
 * "The voted trace equals the fault-free run's" for real-time runs on a shared machine.
 *
 * A real-time run can lose a tick to the machine: when too few replies reach the voter by the
 * deadline (a survivor descheduled while another replica is out, or two replicas late in one
 * tick), the voter holds its last command, which is correct behaviour, and from then on the plant
 * leaves the fault-free path. The simulation never has that. So a run is compared with the
 * simulation's black-box log tick by tick:
 *
 * - every command before the machine's first intervention must be the simulation's, bit for bit;
 * - the first intervention must be a command that was not voted because an in-service replica's
 *   reply was missing at the deadline (timing), never one with every reply on time (a value
 *   fault the voter failed to mask).
 *
 * `runUntilFaultFree` repeats a disturbed run up to a limit and passes on the first run that is
 * identical to the simulation; if every attempt was disturbed, each attempt still had to satisfy
 * both rules above, so a masking failure fails the test whatever the machine does (and with
 * `requireIdentical`, a test that promises the fault-free trace fails).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlackBox, type TickRecord } from '../../src/runtime/black-box.js';

export interface TraceComparison {
  /** Every tick's command equals the simulation's, and the run is as long. */
  readonly identical: boolean;
  /** The first tick whose command differs from the simulation's (null: none differs). */
  readonly firstDifferentTick: number | null;
  /** The first tick the machine intervened: a command that was not voted while some in-service reply was missing. */
  readonly firstInterventionTick: number | null;
  /** Why the comparison fails, or null: identical, or every difference follows a timing intervention. */
  readonly violation: string | null;
  /** Commands that were not voted (held, safe or simplex) in the run. */
  readonly unvotedTicks: readonly number[];
}

function unvoted(t: TickRecord): boolean {
  return t.source !== 'voted';
}

function replyMissing(t: TickRecord): boolean {
  return (t.inServiceMask & ~t.onTimeMask) !== 0;
}

/** Compares two black-box logs: a real-time run's and the simulation's of the same options. */
export function compareWithFaultFree(runLogPath: string, simLogPath: string): TraceComparison {
  const run = readBlackBox(runLogPath).ticks;
  const sim = readBlackBox(simLogPath).ticks;
  const simUnvoted = new Set(sim.filter(unvoted).map((t) => t.tick));
  // An intervention is an unvoted command the simulation did not have (its own, from injected
  // faults, are part of the fault-free trace), with some in-service reply missing.
  const interventions = run.filter((t) => unvoted(t) && !simUnvoted.has(t.tick));
  const firstIntervention = interventions[0] ?? null;
  let firstDifferentTick: number | null = null;
  for (let i = 0; i < Math.max(run.length, sim.length); i++) {
    const a = run[i];
    const b = sim[i];
    if (a === undefined || b === undefined || a.tick !== b.tick || a.commands.join() !== b.commands.join() || a.source !== b.source) {
      firstDifferentTick = a?.tick ?? b?.tick ?? i;
      break;
    }
  }
  let violation: string | null = null;
  if (firstDifferentTick !== null) {
    if (firstIntervention === null) {
      violation = `tick ${firstDifferentTick} differs from the fault-free run with every command voted: a value the voter failed to mask`;
    } else if (firstDifferentTick < firstIntervention.tick) {
      violation = `tick ${firstDifferentTick} differs from the fault-free run before the first timing intervention (tick ${firstIntervention.tick})`;
    } else if (!replyMissing(firstIntervention)) {
      violation = `tick ${firstIntervention.tick}: a ${firstIntervention.source} command with every in-service reply on time (mask ${firstIntervention.onTimeMask.toString(2)}): the replicas disagreed, not the machine`;
    }
  }
  return {
    identical: firstDifferentTick === null,
    firstDifferentTick,
    firstInterventionTick: firstIntervention?.tick ?? null,
    violation,
    unvotedTicks: interventions.map((t) => t.tick),
  };
}

export interface FaultFreeAttempt<T> {
  readonly value: T;
  readonly comparison: TraceComparison;
}

/**
 * Runs `attempt` (which returns its value and its comparison with the simulation) until one is
 * identical to the fault-free run or `attemptsMax` were made. Throws at the first attempt whose
 * difference is not explained by a timing intervention. Returns every attempt, the last one last.
 */
export async function runUntilFaultFree<T>(
  attemptsMax: number,
  label: string,
  attempt: (n: number) => Promise<FaultFreeAttempt<T>>,
  options: { requireIdentical?: boolean } = {},
): Promise<FaultFreeAttempt<T>[]> {
  const done: FaultFreeAttempt<T>[] = [];
  for (let n = 1; n <= attemptsMax; n++) {
    const result = await attempt(n);
    done.push(result);
    const c = result.comparison;
    if (c.violation !== null) throw new Error(`${label}, attempt ${n}: ${c.violation}`);
    if (c.identical) return done;
    console.info(`${label}, attempt ${n} of ${attemptsMax}: the machine intervened at tick ${c.firstInterventionTick} (unvoted at ${c.unvotedTicks.slice(0, 12).join(', ')}${c.unvotedTicks.length > 12 ? ', …' : ''}); identical to the fault-free run until then`);
  }
  const summary = `every one of ${attemptsMax} attempts was disturbed by the machine; each matched the fault-free run up to its first timing intervention`;
  if (options.requireIdentical === true) throw new Error(`${label}: ${summary}, and this test requires one identical run`);
  console.info(`${label}: ${summary}`);
  return done;
}

/**
 * `tmr sim` once and `tmr run` until its trace is the simulation's (see `runUntilFaultFree`), both
 * with black-box logs in a temporary directory that is removed afterwards. `run` is the run-only
 * arguments (replica kinds); `runTmr` runs the CLI and parses its JSON summary.
 */
export async function runAgainstSim<T>(
  common: readonly string[],
  run: readonly string[],
  options: { attemptsMax: number; label: string; runTmr: (args: string[]) => Promise<T> },
): Promise<{ last: T; attempts: FaultFreeAttempt<T>[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-fault-free-'));
  try {
    const simLog = join(dir, 'sim.tmrlog');
    await options.runTmr(['sim', ...common, '--log', simLog]);
    const attempts = await runUntilFaultFree(options.attemptsMax, `${options.label} (tmr run ${[...common, ...run].join(' ')})`, async (n) => {
      const runLog = join(dir, `run-${n}.tmrlog`);
      const value = await options.runTmr(['run', ...common, ...run, '--log', runLog]);
      return { value, comparison: compareWithFaultFree(runLog, simLog) };
    });
    return { last: attempts[attempts.length - 1]!.value, attempts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
