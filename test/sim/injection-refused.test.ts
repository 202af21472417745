/**
 * Issue 17, item 15: a replica built without test hooks (production firmware) answers every
 * `inject` with `error` UNEXPECTED_MESSAGE and changes nothing (PROTOCOL.md 13). The host used to
 * report such a fault as "not detected (tolerated as a transient…)" and count the valid error frame
 * as a protocol error of the board ("corrupt or invalid frames"), which pushes a healthy replica
 * toward exclusion: three refusals close together excluded it. Now the fault's outcome is
 * 'refused', with the replica's answer, and the error counts as what it is: a refusal.
 *
 * The full stack runs the real runner and its links in simulated time, with one replica built
 * without test hooks (TimingEnvironment.withoutTestHooks); the link's rule is checked frame by frame.
 */
import { describe, expect, it } from 'vitest';
import { createObservations, resetObservations } from '../../src/core/tmr-core.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import type { FaultSpec, LoopOptions } from '../../src/loop/loop-model.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { ERROR_CODE, FAULT_KIND, type Message } from '../../src/protocol/messages.js';
import { formatSummary } from '../../src/cli/report.js';
import { defaultQuorumGraceUs } from '../../src/runtime/realtime-runner.js';
import { ReplicaLink, type InjectRefusal } from '../../src/runtime/replica-link.js';
import { quietEnvironment, runFullStack } from '../../src/sim/full-stack.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { createTransportStats, type FrameHandler, type Transport } from '../../src/transport/transport.js';

const RATE_HZ = 200;
const BASE: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, rateHz: RATE_HZ, ticks: 400, seed: 9 };
const REALTIME = { deadlineUs: 3_750, quorumGraceUs: defaultQuorumGraceUs(RATE_HZ), handshakeTimeoutMs: 2_000 };
const fault = (kind: FaultSpec['kind'], replicaIndex: number, startTick: number, durationTicks = 0): FaultSpec => ({ kind, replicaIndex, startTick, durationTicks });

describe('a replica that refuses fault injection (a build without test hooks)', () => {
  it('its faults are reported refused, never "not detected"; its error frames are not protocol errors, and three in a row do not exclude it', async () => {
    // Replica 1 refuses a crash, then three wrong outputs on consecutive ticks (three protocol
    // errors within errorDensityLimit used to exclude it); replica 2, a test build, takes its fault.
    const refused = [fault('crash', 1, 100), fault('wrong', 1, 200, 1), fault('wrong', 1, 201, 1), fault('wrong', 1, 202, 1)];
    const options: LoopOptions = { ...BASE, injects: [...refused, fault('wrong', 2, 300)] };
    const run = await runFullStack({ ...options, ...REALTIME }, { ...quietEnvironment(3), withoutTestHooks: [1] });

    for (const f of run.faults.slice(0, refused.length)) {
      expect(f, `${f.kind} at ${f.injectedTick}`).toMatchObject({
        replica: 1,
        outcome: 'refused',
        refusal: { code: 'UNEXPECTED_MESSAGE', detail: 'test hooks disabled' },
        detectedTick: null,
        reason: null,
      });
    }
    expect(run.faults[refused.length]).toMatchObject({ replica: 2, outcome: 'detected', reason: 'OUTPUT_DISAGREE', refusal: null });
    expect(run.replicas[1]).toMatchObject({ state: 'inService', counters: { protocolErrors: 0 } });
    expect(run.protocolErrors).toBe(0);
    expect(run.links[1]).toMatchObject({ injectsRefused: refused.length, replicaErrors: refused.length, corruptFrames: 0, unexpectedMessages: 0 });
    // Nothing happened to replica 1: up to replica 2's fault the commands are the fault-free run's.
    expect(run.votedTraceHash).toBe(runSimulation({ ...BASE, injects: [fault('wrong', 2, 300)] }).votedTraceHash);

    const text = formatSummary(run, 'tmr run');
    expect(text).toContain('fault: crash on replica 1 at tick 100 — refused by replica 1: UNEXPECTED_MESSAGE (test hooks disabled)');
    expect(text).not.toContain('not detected');
    expect(text).toContain('corrupt or invalid frames: 0');
  });

  it('the link takes UNEXPECTED_MESSAGE as a refusal only while an inject awaits its answer; any other error, or one answering nothing, is a protocol error', () => {
    const law = shippedLaw('pid-q16');
    const obs = createObservations(1, law.outputCount);
    let deliver: FrameHandler = () => {};
    const sent: Uint8Array[] = [];
    const transport: Transport = {
      description: 'test link',
      stats: createTransportStats(),
      isUp: true,
      onFrame: (handler) => (deliver = handler),
      onDown: () => {},
      send: (frame) => sent.push(frame) > 0,
      close: async () => {},
    };
    const link = new ReplicaLink(0, transport, obs, law);
    const receive = (message: Message): void => {
      const frame = encodeMessage(message);
      deliver(frame.subarray(0, frame.length - 1));
    };
    const unexpected: Message = { kind: 'error', code: ERROR_CODE.UNEXPECTED_MESSAGE, detail: 'test hooks disabled' };
    const output = (tick: number): Message => ({ kind: 'output', tick, outputs: new Array<number>(law.outputCount).fill(0), stateDigest: 0 });
    const refusals: InjectRefusal[] = [];
    const inject = { kind: 'inject', fault: FAULT_KIND.wrong, durationTicks: 0, param: 1 } as const;
    // As the runner does: each tick's observations start clear.
    const beginTick = (tick: number): void => {
      resetObservations(obs);
      link.beginTick(tick, new Uint8Array([0]));
    };

    beginTick(0);
    receive(unexpected);
    expect(obs.protocolErrors[0], 'an error answering nothing the host sent').toBe(1);
    receive(output(0));
    link.endTick();

    link.sendInject(inject, (r) => refusals.push(r));
    expect(sent.at(-1)).toEqual(encodeMessage(inject));
    beginTick(1);
    receive(unexpected);
    expect(refusals).toEqual([{ code: 'UNEXPECTED_MESSAGE', detail: 'test hooks disabled' }]);
    expect(obs.protocolErrors[0], 'a refusal is not a protocol error').toBe(0);
    receive(output(1));
    link.endTick();

    // Answered in order: an output for a later tick means the inject was armed; a later error is the board's own.
    link.sendInject(inject, (r) => refusals.push(r));
    beginTick(2);
    receive(output(2));
    receive(unexpected);
    receive({ kind: 'error', code: ERROR_CODE.TICK_GAP, detail: 'tick gap' });
    expect(refusals).toHaveLength(1);
    expect(obs.protocolErrors[0]).toBe(2);
    expect(obs.onTime[0]).toBe(1);
    expect(link.counters).toMatchObject({ injectsRefused: 1, replicaErrors: 4, corruptFrames: 0 });
  });
});
