#!/usr/bin/env node
/**
 * The `tmr` command as shipped: the CLI (src/cli/tmr.ts) with the extensions that live beside src/
 * (firmware-sim/: the sim-board and avr-sim replica kinds; hil/: `tmr hil` and `--actuator
 * firmata:PATH`), and any modules the environment variable TMR_EXTENSIONS names. This is the one
 * place that knows them all: src/ imports neither folder, and neither imports this one
 * (test/loop/layers.test.ts).
 */
import firmwareSim from '../firmware-sim/extension.js';
import hil from '../hil/extension.js';
import { runTmr } from '../src/cli/tmr.js';

runTmr(process.argv.slice(2), [firmwareSim, hil]);
