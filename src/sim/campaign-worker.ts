/**
 * A campaign worker process: runs the batches of seeds the runner sends over its IPC channel and
 * sends their results back. Pure work, no I/O of its own; the runner puts results in seed order.
 * It exits when the channel closes (the runner finished, or died).
 */
import type { CampaignSetup } from './campaign.js';
import { campaignSetup, runBatch, type BatchReply, type BatchRequest } from './campaign-runner.js';

if (process.send === undefined) {
  process.stderr.write('campaign-worker: must be started by the campaign runner (it needs an IPC channel)\n');
  process.exit(2);
}
const send = process.send.bind(process);
// Every batch of a campaign names the same law and plant: loaded once, on the first batch.
let setup: Promise<CampaignSetup> | null = null;
// Batches run one after another, in the order they came (a full-stack batch awaits its simulation).
let queue: Promise<void> = Promise.resolve();
process.on('message', (request: BatchRequest) => {
  setup ??= campaignSetup(request.law, request.plant);
  const loading = setup;
  queue = queue.then(() =>
    loading.then(
      async (loaded) => void send((await runBatch(request, loaded)) satisfies BatchReply),
      (error: unknown) => void send({ index: request.index, results: null, error: { seed: request.from, message: error instanceof Error ? error.message : String(error) } } satisfies BatchReply),
    ),
  );
});
process.on('disconnect', () => process.exit(0));
