/**
 * Replica kinds that stand in for hardware, for `tmr run --replica sim-board` and `avr-sim`. src/
 * never imports this module; firmware-sim/extension.ts declares the kinds to the CLI and loads
 * this module when a run asks for one.
 */
import type { ReplicaProvider, StartedReplica } from '../src/runtime/replica-kinds.js';
import { serialReplica } from '../src/runtime/replica-kinds.js';
import { SerialTransport } from '../src/transport/serial-transport.js';
import { AvrSim } from './avr-sim.js';
import { SimBoard, type SimBoardBehaviour } from './sim-board.js';

/** A simulated board on a pseudo-terminal (firmware-sim/sim-board-main.ts). */
export type SimBoardSpec = { readonly kind: 'sim-board' } & SimBoardBehaviour;

/** Our Uno firmware in the AVR emulator (firmware-sim/avr), on a pseudo-terminal. */
export type AvrSimSpec = {
  readonly kind: 'avr-sim';
  /** Which firmware image (the board profile lists one per baud rate); the profile's default if absent. */
  readonly baudRate?: number;
  /** Enable the firmware's fault-injection hooks (default true). */
  readonly testHooks?: boolean;
  /** The shipped law the firmware is built with (src/laws/NAME/law.c); the run's law if absent. */
  readonly law?: string;
};

export const simBoardProvider: ReplicaProvider = {
  kind: 'sim-board',
  async start(replica, replicaIndex, law) {
    if (replica.kind !== 'sim-board') throw new Error(`sim-board provider given a ${replica.kind} replica`);
    const spec = replica as SimBoardSpec;
    const board = await SimBoard.start({
      name: `sim-board-${replicaIndex}`,
      law: law.source,
      bootNoise: spec.bootNoise ?? true,
      ...(spec.lawHash === undefined ? {} : { lawHash: spec.lawHash }),
      ...(spec.protocolVersion === undefined ? {} : { protocolVersion: spec.protocolVersion }),
      ...(spec.bitErrorRate === undefined ? {} : { bitErrorRate: spec.bitErrorRate, noiseSeed: 1 + replicaIndex }),
      ...(spec.noiseDirection === undefined ? {} : { noiseDirection: spec.noiseDirection }),
      ...(spec.flood === undefined ? {} : { flood: spec.flood, floodAfterMs: spec.floodAfterMs ?? 0 }),
    });
    try {
      const transport = await SerialTransport.open({ path: board.hostPath, baudRate: 115_200, name: `replica ${replicaIndex} (sim-board)` });
      return serialReplica(transport, () => board.stop(), board.pid, (signal) => board.signal(signal), board.dataPathPids, `sim-board pid ${board.pid ?? '?'}`);
    } catch (error) {
      await board.stop();
      throw error;
    }
  },
};

/**
 * An emulated Uno. Every fault is injected through the firmware's own test hooks (inject
 * messages), so the harness process is never signalled: SIGSTOP would freeze the emulator's clock
 * rather than hang the firmware.
 */
const AVR_WARM_UP_TICKS = 400;

export const avrSimProvider: ReplicaProvider = {
  kind: 'avr-sim',
  async start(replica, replicaIndex, law) {
    if (replica.kind !== 'avr-sim') throw new Error(`avr-sim provider given a ${replica.kind} replica`);
    const spec = replica as AvrSimSpec;
    const sim = await AvrSim.start({
      name: `avr-sim-${replicaIndex}`,
      // The firmware is built for one shipped law: the replica's own law=NAME, else the run's.
      law: spec.law ?? law.name,
      ...(spec.baudRate === undefined ? {} : { baudRate: spec.baudRate }),
      ...(spec.testHooks === undefined ? {} : { testHooks: spec.testHooks }),
    });
    try {
      const transport = await SerialTransport.open({ path: sim.hostPath, baudRate: sim.baudRate, name: `replica ${replicaIndex} (avr-sim)` });
      // Compiled firmware has no JIT to warm up; a short warm-up still proves the whole path.
      const replica: StartedReplica = {
        ...serialReplica(transport, () => sim.stop(), sim.pid, () => false, sim.pid === undefined ? [] : [sim.pid], `avr-sim pid ${sim.pid ?? '?'}`),
        warmUpTicks: AVR_WARM_UP_TICKS,
        restartWarmUpTicks: 0,
        // The emulator's reset line: the MCU restarts from its reset vector, RAM (and any fault) gone.
        async restart() {
          await sim.reset();
          return replica;
        },
      };
      return replica;
    } catch (error) {
      await sim.stop();
      throw error;
    }
  },
};

export const PROVIDERS: readonly ReplicaProvider[] = [simBoardProvider, avrSimProvider];
