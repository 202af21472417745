/**
 * A campaign worker process: runs the batches of seeds the runner sends over its IPC channel and
 * sends their results back. Pure work, no I/O of its own; the runner puts results in seed order.
 * It exits when the channel closes (the runner finished, or died).
 */
import { runBatch, type BatchReply, type BatchRequest } from './campaign-runner.js';

if (process.send === undefined) {
  process.stderr.write('campaign-worker: must be started by the campaign runner (it needs an IPC channel)\n');
  process.exit(2);
}
const send = process.send.bind(process);
process.on('message', (request: BatchRequest) => {
  const reply: BatchReply = runBatch(request);
  send(reply);
});
process.on('disconnect', () => process.exit(0));
