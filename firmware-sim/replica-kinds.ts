/**
 * Replica kinds that stand in for hardware, for `tmr run --replica sim-board`. The runtime never
 * imports this module; the CLI loads it when a run asks for a simulated board.
 */
import type { ReplicaProvider, StartedReplica } from '../src/runtime/replica-kinds.js';
import { serialReplica } from '../src/runtime/replica-kinds.js';
import { SerialTransport } from '../src/transport/serial-transport.js';
import { AvrSim } from './avr-sim.js';
import { SimBoard } from './sim-board.js';

export const simBoardProvider: ReplicaProvider = {
  kind: 'sim-board',
  async start(spec, replicaIndex, law) {
    if (spec.kind !== 'sim-board') throw new Error(`sim-board provider given a ${spec.kind} replica`);
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
      return serialReplica(transport, () => board.stop(), board.pid, (signal) => board.signal(signal), board.dataPathPids);
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
  async start(spec, replicaIndex, law) {
    if (spec.kind !== 'avr-sim') throw new Error(`avr-sim provider given a ${spec.kind} replica`);
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
        ...serialReplica(transport, () => sim.stop(), sim.pid, () => false, sim.pid === undefined ? [] : [sim.pid]),
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
