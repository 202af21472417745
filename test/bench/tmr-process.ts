/**
 * Runs the compiled `tmr` as a user does (a child process) and reads its JSON summary: the bench's
 * measurements of the real runtime go through here. The child is stopped with SIGTERM (tmr then
 * stops its replicas by PID) when it overstays its limit or the bench is interrupted.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface TmrProcessOptions {
  /** Repository root (dist/bin/tmr.js below it). */
  readonly root: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Exit codes that still carry a summary (0 always does). */
  readonly acceptCodes?: readonly number[];
  /** Names the measurement in errors. */
  readonly label: string;
}

export function runTmrJson<T>(options: TmrProcessOptions): Promise<T> {
  const { signal, label } = options;
  const accepted = new Set([0, ...(options.acceptCodes ?? [])]);
  const cli = join(options.root, 'dist', 'bin', 'tmr.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...options.args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2048)));
    const lastLine = (): string => stderr.trim().split('\n').pop() ?? '';
    const stop = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    const timer = setTimeout(stop, options.timeoutMs);
    signal.addEventListener('abort', stop, { once: true });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${label}: cannot start tmr: ${error.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      if (signal.aborted) return reject(new Error('interrupted'));
      if (code === null || !accepted.has(code)) return reject(new Error(`${label}: tmr ${options.args.join(' ')} exited ${code}: ${lastLine()}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${label}: tmr ${options.args.join(' ')} printed no summary: ${lastLine()}`));
      }
    });
  });
}
