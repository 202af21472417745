/**
 * A loop world on the simulated Firmata plant board: starts the board (firmata-plant-board.ts) on
 * its own pseudo-terminal, wired by an I/O map, and opens the real Firmata world
 * (src/io/firmata-world.ts) on the board's host end, exactly as `--io firmata:PATH` opens a real
 * board. What `tmr run --io firmata-sim` (extension.ts) and the HIL bench's io scenarios
 * (hil/bench.ts) both run on; the board stays reachable for faults and vanishing.
 *
 * Loaded only when a run uses it (johnny-five and the board's launcher come with it).
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../src/config/fields.js';
import type { LoadedLaw } from '../src/law/law-runtime.js';
import { FIRMATA_BAUD_DEFAULT } from '../src/io/firmata-io.js';
import { FirmataWorld } from '../src/io/firmata-world.js';
import type { IoMap } from '../src/io/io-map.js';
import { SimFirmataPlant, type PlantStatus } from './firmata-plant-board.js';
import type { PlantKind } from './firmata-plant-models.js';

export interface SimFirmataWorldOptions {
  /** The plant the board runs: the run's plant. */
  readonly plant: PlantKind;
  /** The I/O map (checked against the law) both the board and the host are wired by; its source is the file. */
  readonly map: IoMap;
  readonly law: LoadedLaw;
  /** The loop's rate, Hz (the host's ticks; the board keeps its own clock). */
  readonly rateHz: number;
  /** Seeds the board's sensor noise and its noise fault. */
  readonly seed: number;
  /** The host's setpoint at a tick, for inputs the map binds to `profile`. */
  readonly setpointAt: (tick: number) => number;
  /** The board's own clock, Hz (default: the board's, 200). */
  readonly boardRateHz?: number;
  /** The board's drive dead-man, ms without a heartbeat edge (default: the board's, 50). */
  readonly boardWatchdogMs?: number;
}

export interface SimFirmataWorld {
  /** One line: the host's port and map, and the board process behind it. */
  readonly description: string;
  readonly world: FirmataWorld;
  /** The board process: faults, vanish, its events. */
  readonly board: SimFirmataPlant;
  /**
   * Closes the host's port (the loop sent every actuator its safe value first), then stops the
   * board and returns its last status line (null: it printed none, e.g. it vanished).
   */
  close(): Promise<PlantStatus | null>;
}

/** Starts the board and opens the world on it; on any failure both are stopped before the error goes on. */
export async function openSimFirmataWorld(options: SimFirmataWorldOptions): Promise<SimFirmataWorld> {
  // The board process is wired by reading the map's file: a map given as an object has none.
  if (!existsSync(options.map.source)) throw new UsageError(`--io firmata-sim: the simulated board reads its wiring from the I/O map's file; ${options.map.source} is not one (give ioMap as a file's path)`);
  const board = await SimFirmataPlant.start({
    plant: options.plant,
    mapPath: options.map.source,
    law: options.law.name,
    seed: options.seed,
    ...(options.boardRateHz === undefined ? {} : { rateHz: options.boardRateHz }),
    ...(options.boardWatchdogMs === undefined ? {} : { watchdogMs: options.boardWatchdogMs }),
  });
  try {
    const world = await FirmataWorld.open({
      path: board.hostPath,
      baudRate: FIRMATA_BAUD_DEFAULT,
      map: options.map,
      law: options.law,
      rateHz: options.rateHz,
      setpointAt: options.setpointAt,
    });
    return {
      description: `${world.description} ← simulated Firmata ${options.plant} board (pid ${board.pid ?? '?'})`,
      world,
      board,
      async close() {
        try {
          await world.close();
        } catch (error) {
          await board.stop();
          throw error;
        }
        return board.stop();
      },
    };
  } catch (error) {
    await board.stop();
    throw error;
  }
}
