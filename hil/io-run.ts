/**
 * An io scenario's world: the loop closes through the simulated Firmata plant board on a
 * pseudo-terminal (firmware-sim/firmata-sim-world.ts, as `tmr run --io firmata-sim`), and the
 * scenario's sensor faults and the board's vanishing are applied at their host ticks from the
 * loop's tick hook: an action for tick T is sent once tick T − 1 is done, so it is in force (as far
 * as the board can make it so) before tick T senses its inputs.
 *
 * Each action's fate is kept (sent after which tick, answered by the board after which tick, or
 * refused, or never sent because the run had ended), and the board's last words: its dead-man
 * tripping once the loop stopped its heartbeat, with what its outputs commanded then, and its
 * status line at exit. The board and its link are stopped in every case (close, from the bench's
 * finally); a board that vanished is stopped already.
 */
import { assert } from '../src/core/assert.js';
import type { InputEvent, IoSummary } from '../src/loop/world.js';
import { pinName } from '../src/io/io-map.js';
import { compileProfile } from '../src/sim/setpoint-profile.js';
import type { PlantLine, PlantStatus } from '../firmware-sim/firmata-plant-board.js';
import type { IoActionResult, IoBoardEnd } from './result.js';
import type { PlantKind } from '../firmware-sim/firmata-plant-models.js';
import type { SimFirmataWorld } from '../firmware-sim/firmata-sim-world.js';
import type { Scenario, ScenarioIo } from './scenario.js';

/** Input events kept from a run: a fault, a recovery or an expiry per channel change, far fewer in any scenario. */
export const INPUT_EVENTS_MAX = 10_000;
/** How long after the loop stopped the board's dead-man may take to trip, beyond its own time. */
const WATCHDOG_WAIT_MARGIN_MS = 2_000;

/** One scheduled action, filled in as it goes (IoActionResult once the run is over). */
type IoAction = { -readonly [K in keyof IoActionResult]: IoActionResult[K] };

export interface IoEvidence {
  readonly description: string;
  /** The Firmata world's counts (IoSummary); null when the run never got to the world. */
  readonly summary: IoSummary | null;
  /** Every input event of the run, in tick order (the tick the loop halted on included). */
  readonly inputEvents: readonly InputEvent[];
  readonly inputEventsDropped: number;
  readonly actions: readonly IoActionResult[];
  readonly board: IoBoardEnd;
}

interface Scheduled {
  readonly action: IoAction;
  /** A fault's end: sent before a fault that starts on the same tick (possibly on the same pin). */
  readonly ends: boolean;
  readonly run: (sim: SimFirmataWorld) => Promise<PlantLine | 'vanished' | null>;
}

/** The setpoint the host gives an input the map binds to `profile`: the scenario's own, or the plant's. */
function setpointAt(scenario: Scenario, io: ScenarioIo): (tick: number) => number {
  if (io.setpoint !== null) {
    const profile = compileProfile(io.setpoint.segments, io.setpoint.initialMilliDeg);
    return (tick) => profile.setpointAt(tick);
  }
  const profile = scenario.plant.setpointProfile?.({ rateHz: scenario.rateHz, seed: scenario.seed, ticks: scenario.ticks }) ?? null;
  return profile === null ? () => 0 : (tick) => profile.setpointAt(tick);
}

function schedule(io: ScenarioIo): Scheduled[] {
  const list: Scheduled[] = [];
  for (const f of io.sensorFaults) {
    const pin = pinName(f.pin);
    const command = f.fault === 'noise' ? { fault: f.fault, pin, amplitude: f.amplitude! } : f.fault === 'stuck' ? { fault: f.fault, pin, raw: f.raw! } : { fault: f.fault, pin };
    const detail = f.fault === 'noise' ? ` ±${f.amplitude} counts` : f.fault === 'stuck' ? ` at raw ${f.raw}` : '';
    list.push({ action: newAction(`${f.fault}${detail} on pin ${pin}`, f.atTick), ends: false, run: (sim) => sim.board.fault(command) });
    if (f.durationTicks > 0) {
      list.push({ action: newAction(`none on pin ${pin} (the ${f.fault} fault ends)`, f.atTick + f.durationTicks), ends: true, run: (sim) => sim.board.fault({ fault: 'none', pin }) });
    }
  }
  if (io.boardVanishTick !== null) {
    list.push({ action: newAction('the board vanishes', io.boardVanishTick), ends: false, run: async (sim) => (await sim.board.vanish(), 'vanished') });
  }
  return list.sort((a, b) => a.action.tick - b.action.tick || Number(b.ends) - Number(a.ends));
}

function newAction(what: string, tick: number): IoAction {
  return { what, tick, outcome: 'not sent', sentAfterTick: null, answeredAfterTick: null };
}

export class IoRun {
  private readonly scheduled: Scheduled[];
  private next = 0;
  private lastTickDone = -1;
  /** The actions sent so far, one after another: each waits for the board's answer to the one before (answers carry no id). */
  private chain: Promise<void> = Promise.resolve();
  private readonly events: InputEvent[] = [];
  private eventsDropped = 0;
  private closing: Promise<PlantStatus | null> | null = null;
  private readonly watchdogMs: number;

  private constructor(
    io: ScenarioIo,
    readonly sim: SimFirmataWorld,
  ) {
    this.scheduled = schedule(io);
    this.watchdogMs = io.boardWatchdogMs;
  }

  /** Starts the board and opens the world on it (a failure leaves nothing running). */
  static async open(scenario: Scenario): Promise<IoRun> {
    const io = scenario.io;
    assert(io !== null, 'an io run needs the scenario io section');
    const { openSimFirmataWorld } = await import('../firmware-sim/firmata-sim-world.js');
    const sim = await openSimFirmataWorld({
      plant: scenario.plant.name as PlantKind,
      map: io.map,
      law: scenario.law,
      rateHz: scenario.rateHz,
      seed: scenario.seed,
      setpointAt: setpointAt(scenario, io),
      ...(io.boardRateHz === null ? {} : { boardRateHz: io.boardRateHz }),
      boardWatchdogMs: io.boardWatchdogMs,
    });
    return new IoRun(io, sim);
  }

  get description(): string {
    return this.sim.description;
  }

  /**
   * The loop's tick hook, after tick `tick`: keeps the tick's input events and sends the board
   * whatever is due at tick + 1. Never waits: the board's answers are collected as they come.
   */
  afterTick(tick: number, inputEvents: readonly InputEvent[]): void {
    this.lastTickDone = tick;
    this.keep(inputEvents);
    // Bounded by the schedule's length.
    while (this.next < this.scheduled.length && this.scheduled[this.next]!.action.tick <= tick + 1) {
      const { action, run } = this.scheduled[this.next++]!;
      action.outcome = 'no answer';
      this.chain = this.chain.then(async () => {
        action.sentAfterTick = this.lastTickDone;
        try {
          const answer = await run(this.sim);
          action.answeredAfterTick = this.lastTickDone;
          if (answer === 'vanished' || answer?.event === 'fault') action.outcome = 'applied';
          else if (answer?.event === 'refusedCommand') action.outcome = `refused: ${answer.reason}`;
        } catch (error) {
          action.outcome = `failed: ${error instanceof Error ? error.message : String(error)}`;
        }
      });
    }
  }

  private keep(inputEvents: readonly InputEvent[]): void {
    for (const event of inputEvents) {
      if (this.events.length < INPUT_EVENTS_MAX) this.events.push(event);
      else this.eventsDropped++;
    }
  }

  /**
   * After the loop ended (`ticksDone` ticks run): the events of the tick it halted on (sensed, never
   * commanded), the board's answers, its dead-man tripping now that the heartbeat stopped, then
   * the port and the board closed. Call once.
   */
  async finish(ticksDone: number): Promise<IoEvidence> {
    // The tick the loop halted on (an input hold ran out) was sensed but never reached the hook.
    this.keep(this.sim.world.inputHealth().events.filter((e) => e.tick >= ticksDone && e.tick > this.lastTickDone));
    const endedAt = this.sim.board.events.length;
    await this.chain;
    const summary = this.sim.world.ioSummary();
    let watchdogTrip: IoBoardEnd['watchdogTrip'] = null;
    if (!this.sim.board.isVanished) {
      // The heartbeat stopped with the loop: the dead-man trips a watchdogMs later, by when the board
      // has long taken the safe values the loop sent before it stopped. A trip it reported mid-run
      // (a stall past the dead-man) is not reported again: then give it that time anyway.
      const trip = await this.sim.board.waitFor('watchdogTripped', this.watchdogMs + WATCHDOG_WAIT_MARGIN_MS);
      if (trip !== null && this.sim.board.events.indexOf(trip) < endedAt) await new Promise((resolve) => setTimeout(resolve, this.watchdogMs));
      if (trip !== null) watchdogTrip = { boardTick: trip.boardTick, msWithoutHeartbeat: trip.msWithoutHeartbeat, commands: trip.commands };
    }
    const status = await this.close();
    return {
      description: this.description,
      summary,
      inputEvents: this.events,
      inputEventsDropped: this.eventsDropped,
      actions: this.scheduled.map((s) => s.action),
      board: { watchdogTrip, status: status === null ? null : { ...status } },
    };
  }

  /** Closes the port and stops the board (and its link); once, whoever calls first. */
  close(): Promise<PlantStatus | null> {
    this.closing ??= this.sim.close();
    return this.closing;
  }
}
