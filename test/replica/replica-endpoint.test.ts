import { describe, expect, it } from 'vitest';
import { shippedLaw } from '../../src/law/law-loader.js';
import { FrameSplitter } from '../../src/protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import { ERROR_CODE, FAULT_KIND, LIMITS, type Message } from '../../src/protocol/messages.js';
import { ReplicaEndpoint } from '../../src/replica/replica-endpoint.js';
import { helloFor } from '../../src/law/law-runtime.js';

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

  it('steps only the tick after its last step or state (PROTOCOL.md 7.3): a gap, a repeat or a step back is TICK_GAP until a hello or a state', () => {
    const answers = (e: ReturnType<typeof endpoint>, ticks: readonly number[]): string[] =>
      ticks.map((t) => {
        e.push(tick(t));
        const reply = e.replies.at(-1)!;
        return reply.kind === 'output' ? `output ${reply.tick}` : reply.kind === 'error' ? `error ${reply.code} ${reply.detail}` : reply.kind;
      });
    const e = endpoint();
    e.push(hello);
    // After a hello any number; then only the next one, and a refusal changes nothing.
    expect(answers(e, [7, 8, 10, 9, 8, 9])).toEqual([
      'output 7',
      'output 8',
      `error ${ERROR_CODE.TICK_GAP} tick 10, expected 9`,
      'output 9',
      `error ${ERROR_CODE.TICK_GAP} tick 8, expected 10`,
      `error ${ERROR_CODE.TICK_GAP} tick 9, expected 10`,
    ]);
    // A state sets where the next tick comes from; a hello lets any come again.
    e.push({ kind: 'stateRequest', tick: 0 });
    const state = e.replies.at(-1)!;
    expect(state.kind).toBe('state');
    if (state.kind !== 'state') return;
    e.push({ ...state, tick: 500 });
    expect(answers(e, [502, 501])).toEqual([`error ${ERROR_CODE.TICK_GAP} tick 502, expected 501`, 'output 501']);
    e.push(hello);
    expect(answers(e, [3, 4])).toEqual(['output 3', 'output 4']);
    // The tick number wraps as a uint32 does.
    e.push({ ...state, tick: 0xffff_ffff });
    expect(answers(e, [0])).toEqual(['output 0']);
  });

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
