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
