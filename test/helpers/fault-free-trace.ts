/**
 * "The voted trace equals the simulation's" for real-time runs on a shared machine.
 *
 * A real-time run can meet timing the simulation never has: too few replies by the deadline (the
 * voter holds its last command, then commands safe), or one replica late three ticks running
 * while the others answer (the detector excludes it). Both are correct behaviour, and from then on
 * the run may leave the simulation's path. So a run is compared with the simulation's black-box
 * log tick by tick, once, with no retry:
 *
 * - every command before the first named timing event must be the simulation's, bit for bit;
 * - a timing event is an unvoted command the simulation did not have with an in-service reply
 *   missing at the deadline, or an exclusion for timing (DEADLINE_MISSED, LATE_REPLY) the
 *   simulation did not have; an unvoted command with every reply on time is a value the voter
 *   failed to mask, never timing.
 *
 * Whether the run was identical is a timing figure (npm run soak requires it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlackBox } from '../../src/loop/black-box-reader.js';
import type { TickRecord } from '../../src/loop/black-box.js';
import { timingFigure } from './timing-figure.js';

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

const TIMING_REASONS = new Set(['DEADLINE_MISSED', 'LATE_REPLY']);

/** `replicaExcluded` events for timing at a tick, as `replica:reason` keys. */
function timingExclusions(t: TickRecord): string[] {
  return t.events.filter(([kind, , reason]) => kind === 'replicaExcluded' && TIMING_REASONS.has(reason)).map(([, replica, reason]) => `${replica}:${reason}`);
}

/** Compares two black-box logs: a real-time run's and the simulation's of the same options. */
export function compareWithFaultFree(runLogPath: string, simLogPath: string): TraceComparison {
  const run = readBlackBox(runLogPath).ticks;
  const sim = readBlackBox(simLogPath).ticks;
  const simUnvoted = new Set(sim.filter(unvoted).map((t) => t.tick));
  const simExclusions = new Set(sim.flatMap((t) => timingExclusions(t).map((key) => `${t.tick}:${key}`)));
  // An intervention is an unvoted command the simulation did not have (its own, from injected
  // faults, are part of its trace), or a timing exclusion it did not have.
  const timingExclusion = (t: TickRecord): boolean => timingExclusions(t).some((key) => !simExclusions.has(`${t.tick}:${key}`));
  const interventions = run.filter((t) => (unvoted(t) && !simUnvoted.has(t.tick)) || timingExclusion(t));
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
    } else if (!timingExclusion(firstIntervention) && !replyMissing(firstIntervention)) {
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

/**
 * `tmr sim` and then `tmr run` once with the same options, both with black-box logs in a temporary
 * directory removed afterwards, and their comparison (see compareWithFaultFree), which must hold:
 * it throws, naming the command, if the run left the simulation's trace other than by timing.
 * `run` is the run-only arguments (replica kinds); `runTmr` runs the CLI and parses its summary.
 * Whether the run was identical is reported as a timing figure (npm run soak holds it).
 */
export async function runAgainstSim<T>(
  common: readonly string[],
  run: readonly string[],
  options: { label: string; runTmr: (args: string[]) => Promise<T> },
): Promise<{ run: T; comparison: TraceComparison }> {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-fault-free-'));
  try {
    const simLog = join(dir, 'sim.tmrlog');
    const runLog = join(dir, 'run.tmrlog');
    await options.runTmr(['sim', ...common, '--log', simLog]);
    const value = await options.runTmr(['run', ...common, ...run, '--log', runLog]);
    const comparison = compareWithFaultFree(runLog, simLog);
    const command = `tmr run ${[...common, ...run].join(' ')}`;
    if (comparison.violation !== null) throw new Error(`${options.label} (${command}): ${comparison.violation}`);
    timingFigure(
      `${options.label}: runs that left the simulation's trace after a timing event (${command})`,
      comparison.identical ? 0 : 1,
      0,
      { firstInterventionTick: comparison.firstInterventionTick, firstDifferentTick: comparison.firstDifferentTick, unvoted: comparison.unvotedTicks.slice(0, 12) },
    );
    return { run: value, comparison };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
