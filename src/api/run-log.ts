/**
 * One run's black-box log (`--log FILE`, the library's logFile): the header once the replicas are
 * known, a record per tick, the end record. A write that fails does not stop the run: it is
 * reported once, through `onFailure`, and the summary's blackBox says what the file holds.
 */
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { StepResult } from '../core/tmr-core.js';
import { BlackBoxWriteError, BlackBoxWriter, type BlackBoxWriteFailure } from '../loop/black-box.js';
import type { LoopModel, LoopOptions, RunSummary } from '../loop/loop-model.js';
import { UsageError } from '../config/fields.js';
import { blackBoxHeader } from '../cli/black-box-cli.js';
import type { BlackBoxStatus } from './runtime-types.js';

export class RunLog {
  private readonly writer: BlackBoxWriter;
  private headerWritten = false;
  private reported = false;

  /**
   * Creates the file and writes its first bytes: a path that cannot be written is a UsageError
   * before the run, named by `label` ('--log').
   */
  constructor(
    readonly path: string,
    label: string,
    private readonly onFailure: (failure: BlackBoxWriteFailure) => void,
  ) {
    try {
      this.writer = new BlackBoxWriter(path, () => performance.now());
    } catch (error) {
      if (error instanceof BlackBoxWriteError) throw new UsageError(`${label} ${error.message}`);
      throw error;
    }
  }

  /** Before tick 0: the options and the replicas already out (refused at handshake). */
  start(options: LoopOptions, model: LoopModel): void {
    this.writer.writeHeader(blackBoxHeader(options, model, new Date().toISOString()));
    this.headerWritten = true;
    this.reportFailure();
  }

  get started(): boolean {
    return this.headerWritten;
  }

  tick(model: LoopModel, result: StepResult): void {
    if (!this.headerWritten) return;
    this.writer.writeTick(result.tick, model.inputs, model.obs, result);
    if (this.writer.failure !== null && !this.reported) this.reportFailure();
  }

  end(summary: RunSummary, reason: string): void {
    this.writer.writeEnd({ ticks: summary.ticks, reason, unsafeCommands: summary.unsafeCommands, votedTraceHash: summary.votedTraceHash });
    this.reportFailure();
  }

  /** Closes the log; a run that never reached tick 0 (refused or interrupted at start-up) leaves no file holding only the magic. Idempotent. */
  close(): void {
    this.writer.close();
    this.reportFailure();
    if (!this.headerWritten) rmSync(this.path, { force: true });
  }

  /** For the summary: where the log is and whether it is whole. */
  status(): BlackBoxStatus {
    const failure = this.writer.failure;
    return failure === null ? { path: this.path, complete: true } : { path: this.path, complete: false, failure: { ...failure } };
  }

  /** Said once, the moment a write fails: the loop goes on. */
  private reportFailure(): void {
    const f = this.writer.failure;
    if (f === null || this.reported) return;
    this.reported = true;
    this.onFailure(f);
  }
}
