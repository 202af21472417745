/**
 * From sensor samples to a law's input channels, with the I/O map's fault policy: the pure part
 * of real I/O. Each tick the shell hands over, per input channel, the latest sample it has (its raw
 * value and its age in whole ticks) or none; this turns them into channel values and input events.
 *
 *   analog   scaled linearly (io-map.ts scaleAnalog). SENSOR_STALE when there is no sample or it
 *            is older than staleAfterTicks; SENSOR_OUT_OF_RANGE when the raw reading is outside
 *            the map's raw range (a broken wire reads 0 or 1023; the map's range excludes them
 *            when it should) or scales outside the channel's declared range.
 *   digital  0 or 1 (inverted when the map says so). Firmata reports a digital port only when it
 *            changes, so a digital input is never stale once it has reported; SENSOR_STALE until
 *            its first report.
 *   profile  the host's setpoint at the tick; constant: the map's value. Never faulted.
 *
 * A faulted channel holds its last good value for the policy's holdTicks ticks (0: none), then the
 * hold expires: `expired` says so, and the loop goes to its safe state (the runtime trips its kill
 * switch, INPUT_FAULT) before it commands anything from the stale value. Good readings before that
 * end the fault (inputRecovered). A channel that never had a good value has nothing to hold: its
 * hold expires at once.
 *
 * Deterministic: a pure function of the samples, their ages in ticks and the tick. Wall time is
 * converted to ticks by the shell (firmata-world.ts), in one place.
 */
import { assert } from '../core/assert.js';
import type { LawDefinition } from '../law/law.js';
import type { InputEvent, InputFaultReason, InputHealth } from '../loop/world.js';
import { pinName, scaleAnalog, type InputBinding } from './io-map.js';

/** A channel's latest sample as the shell saw it at the tick. */
export interface ChannelSample {
  /** Raw reading: the ADC count (analog) or the pin level 0/1 (digital). */
  readonly raw: number;
  /** Whole ticks since it arrived (0: during the last period). */
  readonly ageTicks: number;
}

interface ChannelState {
  lastGood: number | null;
  /** The tick the current fault began, -1 when none. */
  faultTick: number;
  reason: InputFaultReason | null;
  heldTicks: number;
  expired: boolean;
}

export class InputConditioner {
  private readonly states: ChannelState[];
  /** Ticks with at least one channel faulted, by reason (the summary's io.inputFaultTicks). */
  readonly faultTicks: Record<InputFaultReason, number> = { SENSOR_STALE: 0, SENSOR_OUT_OF_RANGE: 0 };
  /** Faults begun, per channel. */
  readonly faultsBegun: Uint32Array;
  /** Set once a hold has expired: the loop must go safe. */
  expired: InputEvent | null = null;

  constructor(
    private readonly law: LawDefinition,
    private readonly bindings: readonly InputBinding[],
    /** Per channel, for analog inputs: the stale bound in ticks (ignored for the others). */
    private readonly staleAfterTicks: readonly number[],
    private readonly setpointAt: (tick: number) => number,
  ) {
    assert(bindings.length === law.inputs.length && staleAfterTicks.length === bindings.length, 'one binding per law input');
    this.states = bindings.map(() => ({ lastGood: null, faultTick: -1, reason: null, heldTicks: 0, expired: false }));
    this.faultsBegun = new Uint32Array(bindings.length);
  }

  /**
   * Before tick 0: the readings taken while the world opened become each channel's last good value
   * (where good), so a sample that is stale at tick 0 is held like any other rather than leaving
   * the channel with nothing to hold.
   */
  prime(samples: readonly (ChannelSample | null)[]): void {
    for (let c = 0; c < this.bindings.length; c++) {
      const binding = this.bindings[c]!;
      if (binding.source !== 'analog' && binding.source !== 'digital') continue;
      const reading = this.read(c, binding, samples[c] ?? null);
      if (reading.ok) this.states[c]!.lastGood = reading.value;
    }
  }

  /** Fills `out` with this tick's channel values; returns the tick's events. `samples[c]` is ignored for profile and constant channels. */
  condition(tick: number, samples: readonly (ChannelSample | null)[], out: Int32Array): InputHealth {
    const events: InputEvent[] = [];
    let holding = 0;
    const reasonsThisTick = new Set<InputFaultReason>();
    for (let c = 0; c < this.bindings.length; c++) {
      const binding = this.bindings[c]!;
      if (binding.source === 'profile') {
        out[c] = this.setpointAt(tick);
        continue;
      }
      if (binding.source === 'constant') {
        out[c] = binding.value;
        continue;
      }
      const reading = this.read(c, binding, samples[c] ?? null);
      const state = this.states[c]!;
      if (reading.ok) {
        if (state.faultTick >= 0) events.push({ kind: 'inputRecovered', channel: c, tick, heldTicks: state.heldTicks });
        state.faultTick = -1;
        state.reason = null;
        state.heldTicks = 0;
        state.lastGood = reading.value;
        out[c] = reading.value;
        continue;
      }
      reasonsThisTick.add(reading.reason);
      if (state.faultTick < 0 || state.reason !== reading.reason) {
        if (state.faultTick < 0) {
          this.faultsBegun[c]!++;
          state.faultTick = tick;
        }
        state.reason = reading.reason;
        events.push({ kind: 'inputFault', channel: c, reason: reading.reason, tick, detail: reading.detail });
      }
      const policy = binding.onFault.holdTicks;
      if (state.lastGood !== null && state.heldTicks < policy) {
        state.heldTicks++;
        holding++;
        out[c] = state.lastGood;
        continue;
      }
      // Nothing to hold, or held as long as the policy allows: the loop goes safe before this tick's vote.
      out[c] = state.lastGood ?? clampToChannel(0, this.law.inputs[c]!);
      if (!state.expired) {
        state.expired = true;
        const event: InputEvent = { kind: 'inputHoldExpired', channel: c, reason: reading.reason, tick, heldTicks: state.heldTicks };
        events.push(event);
        this.expired ??= event;
      }
    }
    for (const reason of reasonsThisTick) this.faultTicks[reason]++;
    return { events, holding };
  }

  private read(c: number, binding: Extract<InputBinding, { source: 'analog' | 'digital' }>, sample: ChannelSample | null): { ok: true; value: number } | { ok: false; reason: InputFaultReason; detail: string } {
    const where = `${binding.source} pin ${pinName(binding.pin)}`;
    if (sample === null) return { ok: false, reason: 'SENSOR_STALE', detail: `${where}: no reading` };
    if (binding.source === 'digital') {
      const level = sample.raw !== 0 ? 1 : 0;
      return { ok: true, value: binding.invert ? 1 - level : level };
    }
    const staleTicks = this.staleAfterTicks[c]!;
    if (sample.ageTicks > staleTicks) return { ok: false, reason: 'SENSOR_STALE', detail: `${where}: last reading ${sample.ageTicks} ticks old (stale after ${staleTicks})` };
    const [r0, r1] = binding.raw;
    if (sample.raw < Math.min(r0, r1) || sample.raw > Math.max(r0, r1)) {
      return { ok: false, reason: 'SENSOR_OUT_OF_RANGE', detail: `${where}: raw reading ${sample.raw} outside ${Math.min(r0, r1)}..${Math.max(r0, r1)}` };
    }
    const value = scaleAnalog(sample.raw, binding.raw, binding.value);
    const channel = this.law.inputs[c]!;
    if (value < channel.min || value > channel.max) {
      return { ok: false, reason: 'SENSOR_OUT_OF_RANGE', detail: `${where}: ${value} ${channel.unit ?? ''} outside ${channel.min}..${channel.max}`.replace('  ', ' ') };
    }
    return { ok: true, value };
  }
}

function clampToChannel(value: number, channel: { min: number; max: number }): number {
  return Math.max(channel.min, Math.min(channel.max, value));
}

/** Whole ticks in `ms` at `periodMs` (the one place real I/O turns wall time into ticks). */
export function wholeTicks(ms: number, periodMs: number): number {
  assert(periodMs > 0, 'period');
  return ms <= 0 ? 0 : Math.floor(ms / periodMs);
}
