/**
 * The simulated Firmata plant board (firmata-plant.ts) as a process of its own on the board end of
 * a pseudo-terminal, so the plant and its drives' dead-man run on the board's clock whatever the
 * host does, and outlive a host that dies.
 *
 *   firmata-plant --port PATH --plant motor|tank --map FILE --law pid-q16|tank
 *                 [--rate-hz R (200)] [--seed N (1)] [--baud B (57600)] [--watchdog-ms N (50)]
 *
 * The map is checked against the law (the shipped law's channels) and the plant's channels against
 * both before the port is opened; any problem is one line on stderr and exit 2.
 * Until the host sends its first byte the board announces itself (version and firmware name). It
 * prints "ready PATH" once the port is open, then one JSON line per PlantEvent, and a final
 * "status" line with its counters when it exits: on SIGTERM, or when its stdin ends (whoever
 * launched it is gone; see firmata-plant-process.ts for the rest of its life).
 * Faults arrive on stdin as JSON lines, e.g. {"fault":"stale","pin":"A0"},
 * {"fault":"noise","pin":"A0","amplitude":8}, {"fault":"stuck","pin":"A0","raw":512},
 * {"fault":"none","pin":"A0"}; each is answered by a `fault` or a `refusedCommand` line.
 */
import { UsageError } from '../src/config/fields.js';
import { checkIoMap, IO_MAP_BYTES_MAX } from '../src/io/io-map.js';
import { LawError } from '../src/law/law.js';
import { isShippedLaw, shippedLaw, SHIPPED_LAWS } from '../src/law/law-loader.js';
import { InputFileError, readInputText } from '../src/loop/input-file.js';
import { COMMAND_LINE_BYTES_MAX, FirmataPlant, RATE_HZ_MAX, WATCHDOG_MS_DEFAULT, WATCHDOG_MS_MAX } from './firmata-plant.js';
import { PLANT_KINDS, type PlantKind } from './firmata-plant-models.js';
import { fatal, parseFlags, printLine, runBoardProcess, wholeFlag } from './firmata-plant-process.js';

const PROGRAM = 'firmata-plant';
const flags = parseFlags(PROGRAM, ['port', 'plant', 'map', 'law', 'rate-hz', 'seed', 'baud', 'watchdog-ms']);
const whole = (flag: keyof typeof flags, fallback: number, min: number, max: number): number => wholeFlag(PROGRAM, flags[flag], flag, fallback, min, max);
const path = flags.port ?? fatal(PROGRAM, '--port PATH is required');
const plant = flags.plant ?? fatal(PROGRAM, `--plant ${PLANT_KINDS.join('|')} is required`);
if (!(PLANT_KINDS as readonly string[]).includes(plant)) fatal(PROGRAM, `--plant must be ${PLANT_KINDS.join(' or ')}, got '${plant}'`);
const lawName = flags.law ?? fatal(PROGRAM, `--law ${SHIPPED_LAWS.join('|')} is required`);
if (!isShippedLaw(lawName)) fatal(PROGRAM, `--law must be a shipped law (${SHIPPED_LAWS.join(', ')}), got '${lawName}'`);
const mapPath = flags.map ?? fatal(PROGRAM, '--map FILE is required');
const rateHz = whole('rate-hz', 200, 1, RATE_HZ_MAX);
const seed = whole('seed', 1, 0, 0xffff_ffff);
const watchdogMs = whole('watchdog-ms', WATCHDOG_MS_DEFAULT, 1, WATCHDOG_MS_MAX);

const law = shippedLaw(lawName);

/** A map, a law or a plant that do not fit is the user's problem, said in one line, not a crash. */
function configured<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    // The map's own messages name the file and the field already.
    if (error instanceof UsageError || error instanceof InputFileError) fatal(PROGRAM, error.message);
    if (error instanceof SyntaxError) fatal(PROGRAM, `${mapPath}: not JSON: ${error.message}`);
    if (error instanceof LawError) fatal(PROGRAM, `--plant ${plant} --law ${lawName}: ${error.message}`);
    throw error;
  }
}

const map = configured(() => checkIoMap(JSON.parse(readInputText(mapPath, '--map', IO_MAP_BYTES_MAX)), mapPath, law));

runBoardProcess({
  program: PROGRAM,
  path,
  baudRate: whole('baud', 57_600, 300, 2_000_000),
  rateHz,
  board: (send) => configured(() => new FirmataPlant({ plant: plant as PlantKind, map, law, rateHz, seed, watchdogMs }, send, printLine)),
  tick: (board) => board.boardTick(),
  status: (board) => board.status(),
  line: (board, line) => {
    if (line.trim() !== '') board.command(line);
  },
  lineBytesMax: COMMAND_LINE_BYTES_MAX,
});
