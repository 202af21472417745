/**
 * What hil/ adds to the `tmr` command: `tmr hil` (the HIL bench) and `--actuator firmata:PATH`
 * (a motor drive board behind StandardFirmata, through johnny-five). bin/tmr.ts registers it; src/
 * never imports hil/. The bench and johnny-five load only when the command or the actuator is used.
 */
import { defineExtension, type ActuatorExtension } from '../src/cli/extensions.js';
import { DEFAULT_ACTUATOR } from '../src/sim/actuator.js';
import { parseFirmataTarget, type FirmataTarget } from './firmata-target.js';

export const firmataActuator: ActuatorExtension<FirmataTarget> = {
  scheme: 'firmata',
  usage: 'firmata:PATH[@BAUD]',
  help: [
    'run only: also drive a motor drive board on PATH (StandardFirmata,',
    '57600 baud by default) through johnny-five: the voted command on a',
    "Servo (pin 9), a heartbeat toggled every tick on pin 8 for the drive's",
    'watchdog; the loop still closes through the actuator and plant models',
  ],
  parse: (text, label) => parseFirmataTarget(text, label),
  plantProblem: (plant) => (plant === 'motor' ? null : `--actuator drives a motor (pid-q16 on the motor plant); plant '${plant}' has no drive board yet`),
  async open(target) {
    const { FIRMATA_DEFAULTS, openFirmataDrive } = await import('./actuator-path.js');
    const drive = await openFirmataDrive(
      { kind: 'firmata', ...target, pwmRangeUs: FIRMATA_DEFAULTS.pwmRangeUs, readyTimeoutMs: FIRMATA_DEFAULTS.readyTimeoutMs },
      DEFAULT_ACTUATOR.supplyMvMax,
    );
    return {
      description: drive.description,
      // One channel: the motor's command, mV.
      deliver: (commands) => drive.deliver(commands[0] as number),
      close: () => drive.close(),
    };
  },
};

export default defineExtension({
  name: 'hil',
  commands: [
    {
      name: 'hil',
      help: {
        syntax: 'tmr hil FILES|DIRS',
        lines: ['run HIL scenarios (hil/scenarios): verdicts, JSON results, SVG plots,', 'JUnit; options --out DIR, --junit FILE, --firmata PATH[@BAUD]'],
      },
      run: async (argv) => (await import('./hil-cli.js')).runHil(argv),
    },
  ],
  actuators: [firmataActuator],
});
