import { describe, expect, it } from 'vitest';
import { shippedLaw } from '../../src/law/law-loader.js';
import { FrameSplitter } from '../../src/protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import { FAULT_KIND, LIMITS, type Message } from '../../src/protocol/messages.js';
import { ReplicaEndpoint } from '../../src/replica/replica-endpoint.js';
import { helloFor } from '../../src/replica/replica-logic.js';

/** An endpoint whose replies are decoded and collected. */
function endpoint(): { push(m: Message): void; replies: Message[] } {
  const replies: Message[] = [];
  const splitter = new FrameSplitter(LIMITS.frameBytesMax);
  const law = shippedLaw('pid-q16');
  const e = new ReplicaEndpoint(
    {
      write: (bytes) =>
        splitter.push(bytes, (frame) => {
          const decoded = decodeMessage(frame);
          if (decoded.ok) replies.push(decoded.message);
        }),
      crash: () => {},
    },
    { law, implementation: 'test' },
  );
  return { push: (m) => e.push(encodeMessage(m)), replies };
}

describe('the replica endpoint', () => {
  const law = shippedLaw('pid-q16');
  const hello = helloFor(law, 0, law.paramsForRate(200));
  const tick = (t: number): Message => ({ kind: 'tick', tick: t, inputs: [45_000, 1_000] });

  it('an accepted hello clears an active fault (PROTOCOL.md 13); a hello for another law is answered with this one and clears nothing', () => {
    const clean = endpoint();
    clean.push(hello);
    clean.push(tick(0));
    const expected = clean.replies.at(-1);

    const e = endpoint();
    e.push(hello);
    e.push({ kind: 'inject', fault: FAULT_KIND.wrong, durationTicks: 0, param: 1_500 });
    e.push(tick(0));
    expect(e.replies.at(-1)).not.toEqual(expected);
    e.push({ ...hello, lawName: 'tank' });
    expect(e.replies.at(-1)).toMatchObject({ kind: 'helloAck', lawName: 'pid-q16' });
    e.push(hello);
    e.push(tick(0));
    expect(e.replies.at(-1)).toEqual(expected);
  });
});
