/**
 * A drive for one output channel, as a real actuator input behaves: it range-checks every command
 * itself (paired with the voter's check of the law's declared range), holds the last accepted
 * command between frames, and a watchdog puts it at the channel's safe value when commands stop
 * arriving. A trip latches until rearm(): a real drive is re-enabled explicitly.
 * Units are the channel's. Allocates nothing after construction.
 */
import { assert } from '../core/assert.js';

export interface ChannelDriveConfig {
  readonly name: string;
  /** Inclusive range of commands the drive accepts. */
  readonly min: number;
  readonly max: number;
  /** Applied when the watchdog trips or the run ends. */
  readonly safe: number;
  /** Consecutive ticks without an accepted command that trip the watchdog (>= 1). */
  readonly watchdogTicks: number;
}

export class ChannelDrive {
  private value: number;
  private silentTicks = 0;
  private tripped = false;
  watchdogTrips = 0;
  commandsRejected = 0;

  constructor(readonly config: ChannelDriveConfig) {
    assert(config.min <= config.safe && config.safe <= config.max, `drive ${config.name}: safe value outside its range`);
    assert(Number.isInteger(config.watchdogTicks) && config.watchdogTicks >= 1, `drive ${config.name}: watchdogTicks must be >= 1`);
    this.value = config.safe;
  }

  /** What the drive applies now. */
  get applied(): number {
    return this.value;
  }

  get safeState(): boolean {
    return this.tripped;
  }

  /** One tick; `command` is null when nothing arrived. */
  tick(command: number | null): void {
    let accepted = command;
    if (accepted !== null && !(Number.isInteger(accepted) && accepted >= this.config.min && accepted <= this.config.max)) {
      this.commandsRejected++;
      accepted = null;
    }
    if (this.tripped) return;
    if (accepted === null) {
      if (++this.silentTicks >= this.config.watchdogTicks) {
        this.watchdogTrips++;
        this.enterSafeState();
      }
      return;
    }
    this.silentTicks = 0;
    this.value = accepted;
  }

  enterSafeState(): void {
    this.tripped = true;
    this.value = this.config.safe;
  }

  rearm(): void {
    this.tripped = false;
    this.silentTicks = 0;
  }
}
