/**
 * The error createRuntime refuses a configuration with. Light on purpose: `import 'tmr'` loads it.
 */
import { UsageError } from '../config/fields.js';

/**
 * A configuration or option the runtime refuses, one line naming the field and what is wrong
 * (`createRuntime: rateHz must be between 1 and 2000, got 0`). Thrown before anything starts. A
 * UsageError, the CLI's exit code 2.
 */
export class ConfigError extends UsageError {
  override readonly name: string = 'ConfigError';
}
