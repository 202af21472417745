/**
 * A host-side client for one board over any Transport: frames kept in arrival order and taken by
 * tests and benches, with timeouts that name what was awaited.
 */
import { helloFor as runtimeHello, type LoadedLaw } from '../../src/law/law-runtime.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import type { Message } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/transport/transport.js';

export type Received = { raw: Uint8Array; message: Message | null };

/** Frames from a board, kept in arrival order, taken by the checks. */
export class BoardClient {
  private inbox: Received[] = [];
  private wake: (() => void) | null = null;

  constructor(readonly transport: Transport) {
    transport.onFrame((frame) => {
      const raw = frame.slice();
      const decoded = decodeMessage(raw);
      this.inbox.push({ raw, message: decoded.ok ? decoded.message : null });
      this.wake?.();
    });
  }

  send(message: Message | Uint8Array): void {
    const frame = message instanceof Uint8Array ? message : encodeMessage(message);
    if (!this.transport.send(frame)) throw new Error(`${this.transport.description}: send failed (link down)`);
  }

  /** Waits for `count` frames (idle heartbeats skipped unless `keepHeartbeats`); throws on timeout. */
  async take(count: number, timeoutMs: number, what: string, keepHeartbeats = false): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    const taken: Received[] = [];
    while (taken.length < count) {
      const next = this.inbox.shift();
      if (next !== undefined) {
        if (keepHeartbeats || next.message?.kind !== 'heartbeat') taken.push(next);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: ${taken.length} of ${count} answers within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return taken;
  }

  /** Everything that arrives within `ms` (heartbeats included). */
  async drain(ms: number): Promise<Received[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.inbox.splice(0);
  }

  async request(message: Message, what: string, timeoutMs = 2_000): Promise<Message> {
    this.send(message);
    const [answer] = await this.take(1, timeoutMs, what, message.kind === 'state');
    if (answer!.message === null) throw new Error(`${what}: the answer does not decode: ${Buffer.from(answer!.raw).toString('hex')}`);
    return answer!.message;
  }
}

/** The hello a host sends for `law` with `params` (PROTOCOL.md v2): the runtime's own. */
export function helloFor(law: LoadedLaw, params: ArrayLike<number>, replicaIndex = 0): Message {
  return runtimeHello(law, replicaIndex, params);
}
