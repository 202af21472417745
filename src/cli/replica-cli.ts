/**
 * `tmr replica --listen HOST:PORT --key-file FILE [--law NAME|PATH]`: a Node replica on this host
 * for a voter on another (`--replica tcp:HOST:PORT`), over authenticated TCP. It runs until
 * SIGTERM or SIGINT; stdout gets one line once it listens (`listening on HOST:PORT`, the port
 * the system chose for port 0), stderr one line per session event.
 *
 * `tmr key FILE`: writes a fresh pre-shared key (mode 0600) for --key-file, and prints its id.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_LAW, importLaw } from '../law/law-loader.js';
import { ReplicaServer } from '../replica/replica-server.js';
import { raisePriority } from '../runtime/priority.js';
import { selfWarmUp } from '../replica/self-warm-up.js';
import { readKeyFile, writeNewKeyFile, KeyFileError, type PreSharedKey } from '../transport/key-file.js';
import { UsageError } from './options.js';
import { parseHostPort } from './host-port.js';

export const REPLICA_HELP = `  tmr replica --listen HOST:PORT --key-file FILE [--law NAME|PATH]
                       serve a Node replica over authenticated TCP, for a voter on another
                       host (--replica tcp:HOST:PORT); runs until SIGTERM or Ctrl-C
  tmr key FILE         write a new pre-shared key (0600) for --key-file; prints its id
`;

export const FAILOVER_HELP = `  tmr actuator --listen HOST:PORT --key-file FILE [--law L] [--rate-hz R] [--ticks N] [--voters N]
                       [--silent-ticks K] [--watchdog-ticks W] [--log FILE] [--io S[:T] [--io-map FILE]]
                       the actuator side of a redundant voter set: the plant (or real I/O, as
                       tmr run --io), the tick clock, and the arbiter that follows the newest
                       epoch and takes a standby after K silent ticks; exit 4 on an input fault
  tmr voter --actuator HOST:PORT --replica HOST:PORT ... --key-file FILE --etcd URL[,URL] --set NAME
                       [--id NAME] [--law L] [--rate-hz R] [--ttl-s S]
                       one voter of a redundant set: elected through etcd, fenced at the actuator
`;

/** Ticks a replica server runs through its own message path before it listens. */
const SERVER_SELF_WARM_UP_TICKS = 10_000;

/** Parses a subcommand's options; anything it does not know is one line naming it. */
export function parseCommandArgs(argv: readonly string[], command: string, options: NonNullable<ParseArgsConfig['options']>): { values: Record<string, string | string[] | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { values: parsed.values as Record<string, string | string[] | boolean | undefined>, positionals: parsed.positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    throw new UsageError(`tmr ${command}: ${message}`);
  }
}

/** The pre-shared key of --key-file; a file that is not one, or that others may read, is a usage error. */
export function keyFileOption(path: string): PreSharedKey {
  try {
    return readKeyFile(path, '--key-file');
  } catch (error) {
    if (error instanceof KeyFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** The law of --law (the default law without one); one that does not load is a usage error. */
export async function lawOption(ref: unknown): Promise<Awaited<ReturnType<typeof importLaw>>> {
  try {
    return await importLaw(typeof ref === 'string' ? ref : DEFAULT_LAW);
  } catch (error) {
    throw new UsageError(`--law: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Resolves with 0 on SIGTERM or SIGINT (or when `also` resolves), once `stop` is done. */
export function untilStopped(stop: (signal: string) => Promise<void>, also?: Promise<unknown>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const finish = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      void stop(signal).then(() => resolve(0));
    };
    process.on('SIGTERM', () => finish('SIGTERM'));
    process.on('SIGINT', () => finish('SIGINT'));
    void also?.then(() => finish('the end of the run'));
  });
}

export async function keyCommand(argv: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(argv, 'key', {});
  if (positionals.length !== 1) throw new UsageError('tmr key takes one FILE: where to write the new key');
  try {
    const id = writeNewKeyFile(positionals[0]!);
    process.stdout.write(`wrote a new key to ${positionals[0]} (key id ${id}); copy it to every voter and replica host, readable by tmr's user alone\n`);
    return 0;
  } catch (error) {
    if (error instanceof KeyFileError) throw new UsageError(`tmr key ${error.message}`);
    throw error;
  }
}

export async function replicaCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, 'replica', { listen: { type: 'string' }, 'key-file': { type: 'string' }, law: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`tmr replica takes no positional arguments, got '${positionals[0]}'`);
  if (typeof values.listen !== 'string') throw new UsageError('tmr replica needs --listen HOST:PORT (where the voter connects)');
  if (typeof values['key-file'] !== 'string') throw new UsageError('tmr replica needs --key-file FILE (frames on TCP are authenticated; tmr key FILE writes one)');
  const { host, port } = parseHostPort(values.listen, '--listen', 0);
  const key = keyFileOption(values['key-file']);
  const law = await lawOption(values.law);
  // Its JIT is warm before a voter can reach it: no voter time, no link traffic.
  selfWarmUp(law, SERVER_SELF_WARM_UP_TICKS);
  const log = (line: string): void => {
    process.stderr.write(`tmr replica: ${line}\n`);
  };
  const server = await ReplicaServer.start({ host, port, key, law, log });
  process.stdout.write(`listening on ${server.address.text}\n`);
  log(`law ${law.definition.name} v${law.definition.version}, key ${key.id}`);
  // On the control path like any replica process: raised when it may be (root or CAP_SYS_NICE).
  if (!raisePriority(undefined)) log('runs at normal priority (raising it needs root or CAP_SYS_NICE)');
  return untilStopped(async (signal) => {
    await server.close();
    const s = server.stats;
    log(`stopped by ${signal}: ${s.sessionsAccepted} sessions, ${s.refusedWrongKey} refused for a wrong key, ${s.refusedOther + s.refusedBusy} refused otherwise, ${s.framesRefused} frames refused, ${s.crashes} crashes`);
  });
}
