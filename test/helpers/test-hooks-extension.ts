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
import type { ReplicaSettingsSource, TmrExtension } from '../../src/cli/extensions.js';
import { booleanSetting, wholeNumber } from '../../src/config/fields.js';
import type { NodeReplicaSpec } from '../../src/runtime/replica-kinds.js';

const CRASH_AFTER_STATE_TICKS_MAX = 1_000_000;

function nodeTestSpec(raw: Readonly<Record<string, unknown>>, { label, fromText }: ReplicaSettingsSource): NodeReplicaSpec {
  const args: string[] = [];
  if (raw.crashAfterStateTicks !== undefined) {
    const ticks = wholeNumber({ label: `${label}: crash-after-state`, value: raw.crashAfterStateTicks, fromText }, 0, 0, CRASH_AFTER_STATE_TICKS_MAX);
    args.push(`--crash-ticks-after-state=${ticks}`);
  }
  if (booleanSetting({ label: `${label}: corrupt-state`, value: raw.corruptState, fromText }) === true) args.push('--corrupt-state-transfer');
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
        { key: 'crash-after-state', field: 'crashAfterStateTicks' },
        { key: 'corrupt-state', field: 'corruptState' },
      ],
      spec: nodeTestSpec,
    },
  ],
};

export default testHooks;
