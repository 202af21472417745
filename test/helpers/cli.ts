/**
 * Runs the compiled `tmr` CLI as a user would, with a hard timeout, and always reaps what it
 * started. `npm test` builds dist/ before vitest runs; a stale build fails loudly here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'bin', 'tmr.js');
/**
 * The test hooks' extension (a replica kind `node-test`: a Node replica that crashes after a state
 * transfer or applies it wrongly), loaded by the CLI through TMR_EXTENSIONS; pass as `env`.
 */
export const TEST_HOOKS_ENV = { TMR_EXTENSIONS: join(ROOT, 'test', 'helpers', 'test-hooks-extension.ts') } as const;

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Throws unless dist/ is at least as new as src/ (run `npm run build`, or `npm test` which builds). */
export function assertFreshBuild(): void {
  let builtMs: number;
  try {
    builtMs = statSync(CLI).mtimeMs;
  } catch {
    throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it for you)`);
  }
  const newest = (dirs: readonly string[]): number => Math.max(...dirs.map((dir) => newestMtimeMs(join(ROOT, dir))));
  if (newest(['src', 'bin']) > newest([join('dist', 'src'), join('dist', 'bin')])) {
    throw new Error(`dist/ is older than src/ (built ${new Date(builtMs).toISOString()}): run 'npm run build'`);
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  timeoutMs?: number;
  onSpawn?: (child: ChildProcess) => void;
  /** Added to this process's environment for the child (TEST_HOOKS_ENV). */
  env?: Readonly<Record<string, string>>;
  /** A command that runs node for it: `ip netns exec NS` (test/helpers/netns.ts). */
  prefix?: readonly string[];
}

export function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runNode([CLI, ...args], `tmr ${args.join(' ')}`, options);
}

/** `node ARGV` from the repository root, as runCli runs the CLI; `what` names it if it overstays. */
export function runNode(argv: readonly string[], what: string, options: RunCliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = [...(options.prefix ?? []), process.execPath, ...argv];
    const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      killTree(child.pid);
      reject(new Error(`${what} did not finish within ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once('error', reject);
    // 'close' fires after the process exited and its output streams are drained.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    options.onSpawn?.(child);
  });
}

/** Direct children of a process, from /proc (Linux). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs a process and its descendants (continuing stopped ones first). Never throws. */
export function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const child of childPids(pid)) killTree(child);
  for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Runs `tmr ARGS --json`, requires exit 0 (naming the command and its stderr), returns the summary. */
export async function tmrJson<T = { votedTraceHash: string }>(args: readonly string[], timeoutMs = 400_000, env?: Readonly<Record<string, string>>): Promise<T> {
  const result = await runCli([...args, '--json'], { timeoutMs, ...(env === undefined ? {} : { env }) });
  if (result.code !== 0) throw new Error(`tmr ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** `--replica` flags for each spec. */
export const replicaFlags = (...specs: string[]): string[] => specs.flatMap((spec) => ['--replica', spec]);
