/**
 * A replica warms its own JIT before it answers anything: no host time, no link traffic. Used by a
 * standby process (replica-main --self-warm-up-ticks) and by a replica server before it listens.
 */
import { ReplicaEndpoint } from './replica-endpoint.js';
import { NODE_REPLICA_IMPLEMENTATION } from './replica-logic.js';
import { Prng } from '../core/prng.js';
import { drawInputs, helloFor, resetWalk, type LoadedLaw } from '../law/law-runtime.js';
import { encodeMessage } from '../protocol/codec.js';

export const SELF_WARM_UP_TICKS_MAX = 100_000;

/**
 * Runs the whole message path (decode, law, encode) over frames built here, through a throwaway
 * endpoint whose output goes nowhere: a standby started ahead of a restart answers its first real
 * ticks at full speed. Inputs come from the law's coverage generator, with hellos between, as the
 * host's warm-up does (see ReplicaLink.warmUp: identical straight-line input once made V8
 * deoptimise mid-run).
 */
export function selfWarmUp(law: LoadedLaw, ticks: number): void {
  const scratch = new ReplicaEndpoint({ write: () => {}, crash: () => {} }, { law, implementation: NODE_REPLICA_IMPLEMENTATION });
  const hello = encodeMessage(helloFor(law, 0, law.paramsForRate(200)));
  const prng = new Prng(0x5e1f);
  const inputs = new Int32Array(law.inputCount);
  const previous = new Float64Array(law.inputCount);
  resetWalk(law.definition, previous);
  for (let tick = 0; tick < ticks; tick++) {
    if (tick % 48 === 0) scratch.push(hello);
    drawInputs(prng, law.definition, previous, inputs);
    scratch.push(encodeMessage({ kind: 'tick', tick, inputs }));
  }
  // The warm-up's garbage is collected now, while nobody waits on this process, not in a full
  // collection some ticks into its probation (when started with --expose-gc, as replica-command does).
  (globalThis as { gc?: () => void }).gc?.();
}
