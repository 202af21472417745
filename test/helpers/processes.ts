import type { ChildProcessTransport } from '../../src/transport/child-process-transport.js';

/** Stops a transport's process: close() first (it signals by PID), SIGKILL by PID if close() failed. */
export async function stopTransport(transport: ChildProcessTransport): Promise<void> {
  try {
    await transport.close();
  } catch (error) {
    const child = transport.child;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    throw error;
  }
}

/** True while a process with this PID exists (zombies included). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export type Cleanup = () => Promise<void>;

/**
 * Runs and empties a list of cleanups in reverse order of registration, every one of them
 * whatever the others do; returns the errors they threw.
 */
export async function runCleanups(cleanups: Cleanup[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  // Bounded by the number of registered cleanups.
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (error) {
      errors.push(error);
    }
  }
  return errors;
}
