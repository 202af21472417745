/**
 * A campaign worker thread: runs the batches of seeds the runner sends and posts their results
 * back. Pure work, no I/O of its own; the runner puts results in seed order.
 */
import { parentPort } from 'node:worker_threads';
import { runBatch, type BatchReply, type BatchRequest } from './campaign-runner.js';

if (parentPort === null) throw new Error('campaign-worker must run in a worker thread');
const port = parentPort;
port.on('message', (request: BatchRequest) => {
  const reply: BatchReply = runBatch(request);
  port.postMessage(reply);
});
