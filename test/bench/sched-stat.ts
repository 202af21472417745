/**
 * Linux scheduler accounting for a process's main thread, from /proc/<pid>/task/<pid>/schedstat:
 * time on a CPU, time runnable but waiting for a CPU (run-queue wait), and timeslices. Read at
 * block boundaries only. Where /proc is missing, reads return null and the bench leaves the
 * rows out.
 */
import { readFileSync } from 'node:fs';

export interface SchedStat {
  cpuNs: number;
  waitNs: number;
  timeslices: number;
}

export function createSchedStat(): SchedStat {
  return { cpuNs: 0, waitNs: 0, timeslices: 0 };
}

export function readSchedStat(pid: number): SchedStat | null {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ');
    const [cpuNs, waitNs, timeslices] = fields.map(Number);
    if (cpuNs === undefined || waitNs === undefined || timeslices === undefined || !Number.isFinite(cpuNs + waitNs + timeslices)) return null;
    return { cpuNs, waitNs, timeslices };
  } catch {
    return null;
  }
}

/** Sum of the main threads of `pids`, or null if any cannot be read. */
export function readSchedStatSum(pids: readonly number[]): SchedStat | null {
  const sum = createSchedStat();
  for (const pid of pids) {
    const s = readSchedStat(pid);
    if (s === null) return null;
    sum.cpuNs += s.cpuNs;
    sum.waitNs += s.waitNs;
    sum.timeslices += s.timeslices;
  }
  return sum;
}

/** into += (after − before). */
export function addSchedDelta(into: SchedStat, before: SchedStat, after: SchedStat): void {
  into.cpuNs += after.cpuNs - before.cpuNs;
  into.waitNs += after.waitNs - before.waitNs;
  into.timeslices += after.timeslices - before.timeslices;
}
