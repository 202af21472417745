/**
 * `tmr replay`: re-runs the voter (the pure core) over every logged tick's observations and the
 * control law over the logged inputs, and checks every logged command bit for bit:
 *   - the core, given the same observations, must produce the same command, source, mode and
 *     in-service set (the voter's decisions are a pure function of what it saw);
 *   - every voted command must equal the control law's output for the logged inputs from tick 0
 *     (a correct replica's answer: the majority was right), on every channel (a mid-value channel
 *     within its tolerance).
 * Deterministic and allocation-light; it takes the ticks as a stream (any iterable), so a log of
 * any length replays in bounded memory; stops listing mismatches after MISMATCHES_LISTED_MAX.
 * Every logged observation is checked before the core sees it (a replica's output inside its
 * channel's range, a probation or cold start only for a replica the voter has out): the core
 * asserts its own invariants, and a log is the world's input, so a record no run of tmr could
 * have written is a ReplayError naming the tick, never an assertion.
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop.
 */
import type { LoadedLaw } from '../law/law-runtime.js';
import type { ExclusionReason } from '../core/failure-detector.js';
import { createCoreState, createObservations, excludeReplica, resetObservations, step, type CoreConfig, type CoreState } from '../core/tmr-core.js';
import type { BlackBoxHeader, TickRecord } from './black-box.js';
import { coreConfigFor } from './loop-model.js';

export const MISMATCHES_LISTED_MAX = 20;

export interface ReplayMismatch {
  readonly tick: number;
  /** What differs: 'command', 'source', 'mode', 'inService', 'law' (voted ≠ the law's output), 'sequence'. */
  readonly what: string;
  readonly logged: string;
  readonly replayed: string;
}

export interface ReplayReport {
  readonly ticks: number;
  readonly votedChecked: number;
  readonly mismatchCount: number;
  readonly mismatches: readonly ReplayMismatch[];
}

export class ReplayError extends Error {
  override readonly name = 'ReplayError';
}

/** What replay reads: the header and the ticks in order (an array, or a reader's stream). */
export interface ReplayInput {
  readonly header: BlackBoxHeader | null;
  readonly ticks: Iterable<TickRecord>;
}

/** Replays a log with the law it was written with (the caller loads it and checks its hash). */
export function replayBlackBox(log: ReplayInput, law: LoadedLaw): ReplayReport {
  const h = log.header;
  if (h === null) throw new ReplayError('the log has no header record: nothing to replay');
  if (h.law.inputs.length !== law.inputCount || h.law.outputs.length !== law.outputCount) {
    throw new ReplayError(`the header names ${h.law.inputs.length} inputs and ${h.law.outputs.length} outputs; law ${law.name} has ${law.inputCount} and ${law.outputCount}`);
  }
  const config = coreConfigFor({ ...h, law });
  const core = createCoreState(config);
  for (const [replica, reason] of h.initialExcluded) excludeReplica(core, replica, reason as ExclusionReason, 0);
  const obs = createObservations(h.replicaCount, law.outputCount);
  const lawParams = law.paramsForRate(h.rateHz);
  let lawState = law.definition.init(lawParams);
  const lawOut = new Int32Array(law.outputCount);
  const lawIn = new Int32Array(law.inputCount);
  const mismatches: ReplayMismatch[] = [];
  let mismatchCount = 0;
  let votedChecked = 0;
  let index = 0;
  const differ = (tick: number, what: string, logged: unknown, replayed: unknown): void => {
    mismatchCount++;
    if (mismatches.length < MISMATCHES_LISTED_MAX) mismatches.push({ tick, what, logged: String(logged), replayed: String(replayed) });
  };
  for (const r of log.ticks) {
    if (r.tick !== index) {
      differ(r.tick, 'sequence', `tick ${r.tick}`, `tick ${index} expected`);
      break;
    }
    index++;
    const problem = observationProblem(r, core, config);
    if (problem !== null) throw new ReplayError(`tick ${r.tick}: ${problem}: no run of tmr logs that`);
    fillObservations(obs, r);
    const result = step(core, obs, r.tick);
    if (!sameValues(result.commands, r.commands)) differ(r.tick, 'command', `[${r.commands.join(', ')}]`, `[${result.commands.join(', ')}]`);
    if (result.commandSource !== r.source) differ(r.tick, 'source', r.source, result.commandSource);
    if (result.mode !== r.mode) differ(r.tick, 'mode', r.mode, result.mode);
    if (result.inServiceMask !== r.inServiceMask) differ(r.tick, 'inService', r.inServiceMask.toString(2), result.inServiceMask.toString(2));
    for (let c = 0; c < lawIn.length; c++) lawIn[c] = r.inputs[c] ?? 0;
    // A cold restart began the law again from its initial state at this tick.
    if (r.events.some(([kind]) => kind === 'coldStarted')) lawState = law.definition.init(lawParams);
    law.definition.step(lawState, lawIn, lawOut);
    if (r.source === 'voted') {
      votedChecked++;
      const agrees = config.channels.every((channel, c) => Math.abs((lawOut[c] as number) - (r.commands[c] ?? NaN)) <= (channel.kind === 'exact' ? 0 : channel.toleranceCounts));
      if (!agrees) differ(r.tick, 'law', `[${r.commands.join(', ')}] voted`, `[${lawOut.join(', ')}] from the law`);
    }
  }
  return { ticks: index, votedChecked, mismatchCount, mismatches };
}

/**
 * Why a logged tick could not have come from a run (the core would assert on it), or null: a
 * replica's on-time output outside its channel's range (the shell refuses those as protocol
 * errors), a probation or cold start for a replica the voter has in service, a cold start of less
 * than a majority.
 */
function observationProblem(r: TickRecord, core: CoreState, config: CoreConfig): string | null {
  const channels = config.channels.length;
  for (let i = 0; i < config.replicaCount; i++) {
    if (((r.onTimeMask >> i) & 1) === 0) continue;
    for (let c = 0; c < channels; c++) {
      const value = r.outputs[i * channels + c] as number;
      const channel = config.channels[c] as CoreConfig['channels'][number];
      if (value < channel.min || value > channel.max) return `replica ${i}'s output ${value} on channel ${channel.name} is outside [${channel.min}, ${channel.max}]`;
    }
  }
  let coldStarts = 0;
  for (const [kind, replica] of r.events) {
    if (kind !== 'probationStarted' && kind !== 'coldStarted') continue;
    if (replica < 0 || core.status[replica] !== 'excluded') return `${kind} for replica ${replica}, which the voter has ${replica < 0 ? 'no such replica' : core.status[replica]}`;
    if (kind === 'coldStarted') coldStarts++;
  }
  if (coldStarts > 0 && coldStarts * 2 <= config.replicaCount) return `a cold start of ${coldStarts} of ${config.replicaCount} replicas, not a majority`;
  return null;
}

function fillObservations(obs: ReturnType<typeof createObservations>, r: TickRecord): void {
  resetObservations(obs);
  for (let i = 0; i < obs.replicaCount; i++) {
    obs.onTime[i] = (r.onTimeMask >> i) & 1;
    obs.linkDown[i] = (r.linkDownMask >> i) & 1;
    obs.digests[i] = r.digests[i] ?? 0;
    obs.lateReplies[i] = r.lateReplies[i] ?? 0;
    obs.protocolErrors[i] = r.protocolErrors[i] ?? 0;
  }
  for (let k = 0; k < obs.outputs.length; k++) obs.outputs[k] = r.outputs[k] ?? 0;
  obs.hostLate = r.hostLate;
  // The shell's one input besides replies: a replica re-synchronised before this tick.
  for (const [kind, replica] of r.events) {
    if (replica < 0 || replica >= obs.replicaCount) continue;
    if (kind === 'probationStarted') obs.probationStart[replica] = 1;
    if (kind === 'coldStarted') obs.coldStart[replica] = 1;
  }
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
