/**
 * The control path's priority: the voter, its replica processes, and the servers of a redundant
 * set raise themselves to CONTROL_NICE when they may, so that batch work on the machine does not
 * delay a tick.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Scheduling priority (nice value) asked for the host and its replicas: a control loop should not
 * queue behind batch work. Needs root or CAP_SYS_NICE; without it the run goes on at normal
 * priority and the summary says so.
 */
export const CONTROL_NICE = -10;

/**
 * Tries to raise a process's priority, every thread of it; true if it worked. On Linux a nice
 * value belongs to a thread, and setpriority(pid) reaches the main thread only: a standby started
 * at RESTART_NICE and raised that way kept its garbage collector's helper threads at the low
 * priority, and its main thread, waiting on them, missed deadlines on probation (measured). So
 * every thread listed in /proc is raised; where there is no /proc, the main thread.
 */
export function raisePriority(pid: number | undefined): boolean {
  const target = pid ?? process.pid;
  let threads: number[];
  try {
    threads = readdirSync(`/proc/${target}/task`).map(Number).filter((tid) => Number.isInteger(tid) && tid > 0);
  } catch {
    threads = [target];
  }
  let raised = 0;
  for (const tid of threads) {
    try {
      setPriority(tid, CONTROL_NICE);
      raised++;
    } catch (error) {
      // A thread that ended since the listing is no failure; a refusal (no privilege) is.
      if ((error as { info?: { code?: string } }).info?.code !== 'ESRCH') return false;
    }
  }
  return raised > 0;
}

