/**
 * tmr as a library. `import { defineLaw } from 'tmr'` to write a control law; loadLaw and
 * LoadedLaw to run a law's load-time checks and read what the runtime derives from it;
 * `import { createRuntime } from 'tmr'` to run the loop from your own program (README "Library").
 *
 * Importing it stays light (a replica process imports it with every law that says
 * `from 'tmr'`): the runtime itself loads when createRuntime is first called.
 */
export { defineLaw, readI32Le, writeI32Le, LawError, LAW_CHANNELS_MAX, LAW_PARAMS_MAX, LAW_STATE_BYTES_MAX } from './law/law.js';
export type { LawDefinition, LawSpec, InputChannel, OutputChannel, LawParam, VotePolicy } from './law/law.js';
export { loadLaw, LoadedLaw, runSelfTest, SELF_TEST_SEED, SELF_TEST_STEPS } from './law/law-runtime.js';
export type { PlantDefinition, PlantOptions, LoopWorld, InputEvent, InputFaultReason, InputHealth, IoSummary } from './loop/world.js';
export { ChannelDrive, type ChannelDriveConfig } from './sim/channel-drive.js';
/** The runtime: createRuntime, its configuration, events and summary (src/api/). */
export { createRuntime } from './api/runtime.js';
export { ConfigError } from './api/config-error.js';
export type {
  Runtime,
  RuntimeConfig,
  RuntimeOptions,
  RuntimeMode,
  RuntimeEvents,
  RuntimeEventName,
  RuntimeListener,
  RuntimeSummary,
  SimulationSummary,
  RealtimeRunSummary,
  BlackBoxStatus,
  ReplicaConfig,
  RecoveryConfig,
  FaultInjection,
  TickEvent,
  ReadyEvent,
  ModeChangeEvent,
  ReplicaExcludedEvent,
  ProbationStartedEvent,
  ReplicaReadmittedEvent,
} from './api/runtime-types.js';
export type { RunSummary, FaultRecord } from './loop/loop-model.js';
export type { RealtimeSummary, StartPolicy } from './runtime/realtime-runner.js';
export type { KillSwitchConfig, KillSwitchTrip, KillTrigger } from './loop/kill-switch.js';
export type { BlackBoxWriteFailure } from './loop/black-box.js';
export type { Mode } from './core/degradation.js';
export type { CommandSource, ReplicaStatus } from './core/tmr-core.js';
export type { ExclusionReason } from './core/failure-detector.js';
export type { FaultKind } from './protocol/messages.js';
/**
 * Extensions to the `tmr` command (TMR_EXTENSIONS, README "Extensions") and to a runtime
 * (RuntimeOptions.extensions): what a module declares (types only, so importing tmr stays light)
 * and the readers that keep its errors to one line.
 */
export type {
  TmrExtension,
  ReplicaKindExtension,
  ReplicaSetting,
  ReplicaSettingsSource,
  ActuatorExtension,
  OpenedActuator,
  IoExtension,
  IoContext,
  CommandExtension,
  HelpEntry,
} from './cli/extensions.js';
export type { ReplicaProvider, ReplicaSpec, StartedReplica } from './runtime/replica-kinds.js';
export { UsageError, wholeNumber, decimalNumber, booleanSetting, show } from './config/fields.js';
