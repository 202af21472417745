/**
 * The Node replica's test hooks, kept out of the product's option grammar: a replica kind
 * `node-test` that only the tests load, through the environment variable the CLI reads extension
 * modules from (TEST_HOOKS_ENV in test/helpers/cli.ts):
 *
 *   TMR_EXTENSIONS=test/helpers/test-hooks-extension.ts tmr run --replica node-test:crash-after-state=50 …
 *
 * It builds a plain `node` replica with src/replica/replica-main.ts's hook flags:
 * crash-after-state=N crashes N ticks after each state transfer (a replica that fails as soon as it
 * is back), corrupt-state=1 applies each transferred state wrongly. In a config file:
 * `{ "kind": "node-test", "crashAfterStateTicks": 50, "corruptState": true }`.
 *
 * Loaded from source by the compiled CLI (tsx), so it imports only what it needs at run time.
 */
import type { TmrExtension } from '../../src/cli/extensions.js';
import type { NodeReplicaSpec } from '../../src/runtime/replica-kinds.js';

const CRASH_AFTER_STATE_TICKS_MAX = 1_000_000;

/** The settings arrive typed (the CLI reads them as declared below): a number of ticks, a boolean. */
function nodeTestSpec(settings: Readonly<Record<string, unknown>>): NodeReplicaSpec {
  const { crashAfterStateTicks, corruptState } = settings as { crashAfterStateTicks?: number; corruptState?: boolean };
  const args: string[] = [];
  if (crashAfterStateTicks !== undefined) args.push(`--crash-ticks-after-state=${crashAfterStateTicks}`);
  if (corruptState === true) args.push('--corrupt-state-transfer');
  return { kind: 'node', args };
}

const testHooks: TmrExtension = {
  name: 'test hooks',
  replicaKinds: [
    {
      kind: 'node-test',
      usage: 'node-test',
      help: {
        syntax: 'node-test[:OPTS]',
        lines: ['TEST HOOKS: a Node replica process; OPTS:', 'crash-after-state=N (crash N ticks after a', 'state transfer), corrupt-state=1 (apply a', 'transferred state wrongly)'],
      },
      settings: [
        { key: 'crash-after-state', field: 'crashAfterStateTicks', type: 'whole', min: 0, max: CRASH_AFTER_STATE_TICKS_MAX },
        { key: 'corrupt-state', field: 'corruptState', type: 'boolean' },
      ],
      spec: nodeTestSpec,
    },
  ],
};

export default testHooks;
