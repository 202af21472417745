/**
 * tmr as a library. `import { defineLaw } from 'tmr'` to write a control law; loadLaw and
 * LoadedLaw to run a law's load-time checks and read what the runtime derives from it.
 */
export { defineLaw, readI32Le, writeI32Le, LawError, LAW_CHANNELS_MAX, LAW_PARAMS_MAX, LAW_STATE_BYTES_MAX } from './law/law.js';
export type { LawDefinition, LawSpec, InputChannel, OutputChannel, LawParam, VotePolicy } from './law/law.js';
export { loadLaw, LoadedLaw, runSelfTest, SELF_TEST_SEED, SELF_TEST_STEPS } from './law/law-runtime.js';
export type { PlantDefinition, PlantOptions, LoopWorld } from './loop/world.js';
export { ChannelDrive, type ChannelDriveConfig } from './sim/channel-drive.js';
/**
 * Extensions to the `tmr` command (TMR_EXTENSIONS, README "Extensions"): what a module declares
 * (types only, so importing tmr stays light) and the readers that keep its errors to one line.
 */
export type {
  TmrExtension,
  ReplicaKindExtension,
  ReplicaSetting,
  ReplicaSettingsSource,
  ActuatorExtension,
  OpenedActuator,
  CommandExtension,
  HelpEntry,
} from './cli/extensions.js';
export type { ReplicaProvider, ReplicaSpec, StartedReplica } from './runtime/replica-kinds.js';
export { UsageError, wholeNumber, decimalNumber, booleanSetting, show } from './config/fields.js';
