/**
 * Redundant voters (issue 19) from the command line:
 *
 * `tmr actuator --listen HOST:PORT --key-file FILE [--law L] [--plant P] [--rate-hz R] [--ticks N]
 *  [--voters N] [--silent-ticks K] [--watchdog-ticks W] [--log FILE] [--io SCHEME[:TARGET]
 *  [--io-map FILE]]`: the actuator side, holding the world (the law's simulated plant, or real I/O
 *  through johnny-five as `tmr run --io` has it), the tick clock and the arbiter. stdout:
 *  `listening on HOST:PORT`, and at the end one JSON line, its summary; exit 4 when an input
 *  fault stopped it safe.
 *
 * `tmr voter --actuator HOST:PORT --replica HOST:PORT (one per replica) --key-file FILE
 *  --etcd URL[,URL…] --set NAME [--id NAME] [--law L] [--rate-hz R] [--ttl-s S]`: one voter of the
 *  set. stdout: `epoch N` whenever it holds a new key, `stepped down …` when it lets one go, and
 *  at the end one JSON line, its counts.
 *
 * Both run until SIGTERM or SIGINT (the actuator also until --ticks).
 */
import type { ParseArgsConfig } from 'node:util';
import { ActuatorServer, profileTicks } from '../failover/actuator-server.js';
import { loadIoMap, openIo, selectIo, type OpenedIo } from '../io/open-io.js';
import { RedundantVoter } from '../failover/redundant-voter.js';
import { raisePriority } from '../runtime/priority.js';
import { importPlant } from '../sim/plants.js';
import type { ExtensionRegistry } from './extensions.js';
import { parseHostPort } from './host-port.js';
import { UsageError } from './options.js';
import { keyFileOption, lawOption, parseCommandArgs, untilStopped } from './replica-cli.js';


function parse(argv: readonly string[], command: string, options: NonNullable<ParseArgsConfig['options']>): Record<string, string | string[] | boolean | undefined> {
  const { values, positionals } = parseCommandArgs(argv, command, options);
  if (positionals.length > 0) throw new UsageError(`tmr ${command} takes no positional arguments, got '${positionals[0]}'`);
  return values;
}

function text(values: Record<string, unknown>, name: string, command: string, why: string): string {
  const value = values[name];
  if (typeof value !== 'string') throw new UsageError(`tmr ${command} needs --${name} ${why}`);
  return value;
}

function integer(values: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${name} ${String(value)}: a whole number ${min}..${max}`);
  return n;
}

/** Exit code of an actuator stopped safe by an input fault (tmr run's kill switch code). */
const EXIT_INPUT_FAULT = 4;

export async function actuatorCommand(argv: readonly string[], extensions: ExtensionRegistry): Promise<number> {
  const v = parse(argv, 'actuator', {
    listen: { type: 'string' },
    'key-file': { type: 'string' },
    law: { type: 'string' },
    plant: { type: 'string' },
    'rate-hz': { type: 'string' },
    ticks: { type: 'string' },
    seed: { type: 'string' },
    voters: { type: 'string' },
    'silent-ticks': { type: 'string' },
    'watchdog-ticks': { type: 'string' },
    log: { type: 'string' },
    io: { type: 'string' },
    'io-map': { type: 'string' },
  });
  const { host, port } = parseHostPort(text(v, 'listen', 'actuator', 'HOST:PORT (where voters connect)'), '--listen', 0);
  const psk = keyFileOption(text(v, 'key-file', 'actuator', 'FILE (links are authenticated; tmr key FILE writes one)'));
  const loaded = await lawOption(v.law);
  let plant;
  try {
    plant = await importPlant(loaded, typeof v.plant === 'string' ? v.plant : undefined);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const silentTicksMax = integer(v, 'silent-ticks', 4, 1, 1000);
  const rateHz = integer(v, 'rate-hz', 200, 1, 2000);
  const ticks = integer(v, 'ticks', 0, 0, 100_000_000);
  const seed = integer(v, 'seed', 1, 0, 0xffff_ffff);
  const watchdogTicks = integer(v, 'watchdog-ticks', 50, silentTicksMax, 100_000);
  const votersToStart = integer(v, 'voters', 1, 1, 8);
  if (typeof v['io-map'] === 'string' && typeof v.io !== 'string') throw new UsageError('--io-map needs --io (the I/O map wires real I/O; without --io the actuator holds the plant model)');
  const selected = typeof v.io === 'string' ? selectIo(v.io, '--io', (scheme) => extensions.io(scheme), extensions.ios.map((i) => i.usage)) : null;
  const ioMap = selected === null ? null : loadIoMap(selected, typeof v['io-map'] === 'string' ? { path: v['io-map'], label: '--io-map' } : null, loaded, plant);
  const log = (line: string): void => {
    process.stderr.write(`tmr actuator: ${line}\n`);
  };
  // The board is opened (and every sensor has reported) before voters can connect; its safe values
  // are written when the actuator stops, then the port is closed.
  const io: OpenedIo | null = await openIo({ io: selected, ioMap, law: loaded, plant, rateHz, ticks: profileTicks(ticks, rateHz), seed });
  if (io !== null) log(`I/O: ${io.description}`);
  let server: ActuatorServer;
  try {
    server = await ActuatorServer.start({
      host,
      port,
      key: psk,
      law: loaded,
      plant,
      world: io?.world ?? null,
      rateHz,
      ticks,
      seed,
      votersToStart,
      silentTicksMax,
      watchdogTicks,
      logPath: typeof v.log === 'string' ? v.log : null,
      log,
    });
  } catch (error) {
    io?.world.enterSafeState();
    await io?.close();
    throw error;
  }
  process.stdout.write(`listening on ${server.address}\n`);
  if (!raisePriority(undefined)) log('runs at normal priority (raising it needs root or CAP_SYS_NICE)');
  server.run();
  const code = await untilStopped(async () => {
    const summary = await server.stop();
    await io?.close();
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  }, server.done);
  return code === 0 && server.inputFault !== null ? EXIT_INPUT_FAULT : code;
}

export async function voterCommand(argv: readonly string[]): Promise<number> {
  const v = parse(argv, 'voter', {
    actuator: { type: 'string' },
    replica: { type: 'string', multiple: true },
    'key-file': { type: 'string' },
    etcd: { type: 'string' },
    set: { type: 'string' },
    id: { type: 'string' },
    law: { type: 'string' },
    'rate-hz': { type: 'string' },
    'ttl-s': { type: 'string' },
    'fence-margin-ms': { type: 'string' },
    // Test hook: the voter commands whatever its own deadline says; the actuator alone fences it.
    'no-self-fence': { type: 'boolean' },
  });
  const actuator = parseHostPort(text(v, 'actuator', 'voter', 'HOST:PORT (the actuator server)'), '--actuator', 1);
  const replicaTexts = (v.replica as string[] | undefined) ?? [];
  if (![3, 5, 7].includes(replicaTexts.length)) throw new UsageError(`tmr voter needs --replica HOST:PORT once per replica, 3, 5 or 7 of them; got ${replicaTexts.length}`);
  const replicas = replicaTexts.map((t) => parseHostPort(t, '--replica', 1));
  const psk = keyFileOption(text(v, 'key-file', 'voter', 'FILE (links are authenticated; tmr key FILE writes one)'));
  const endpoints = text(v, 'etcd', 'voter', 'URL[,URL…] (the etcd cluster that elects the primary)').split(',');
  for (const url of endpoints) if (!/^https?:\/\/[A-Za-z0-9.[\]:-]+:\d{1,5}$/.test(url)) throw new UsageError(`--etcd: '${url}' is not http://HOST:PORT`);
  const loaded = await lawOption(v.law);
  const ttlS = integer(v, 'ttl-s', 2, 1, 60);
  const log = (line: string): void => {
    process.stderr.write(`tmr voter: ${line}\n`);
  };
  if (!raisePriority(undefined)) log('runs at normal priority (raising it needs root or CAP_SYS_NICE)');
  const voter = await RedundantVoter.start({
    voterId: typeof v.id === 'string' ? v.id : `voter-${process.pid}`,
    actuator,
    replicas,
    key: psk,
    law: loaded,
    rateHz: integer(v, 'rate-hz', 200, 1, 2000),
    etcd: { endpoints, set: text(v, 'set', 'voter', 'NAME (the voter set: its keys in etcd)'), ttlS, fenceMarginMs: integer(v, 'fence-margin-ms', 100, 0, ttlS * 1000 - 1) },
    deadlineFraction: 0.8,
    selfFence: v['no-self-fence'] !== true,
    log,
    announce: (line) => process.stdout.write(`${line}\n`),
  }).catch((error: unknown) => {
    throw new UsageError(`tmr voter: ${error instanceof Error ? error.message : String(error)}`);
  });
  return untilStopped(async () => {
    await voter.stop();
    process.stdout.write(`${JSON.stringify(voter.stats)}\n`);
  });
}
