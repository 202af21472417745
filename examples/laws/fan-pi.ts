/**
 * A user's control law, as you would write your own: a PI speed controller for a fan, and the fan
 * it runs against in simulation. examples/custom-law-sim.ts runs it; `npx tmr sim --law
 * examples/laws/fan-pi.ts` does too.
 *
 * The law is integer fixed-point only, so every replica (a Node process, a C board) computes the
 * same bits. Gains are Q16.16: 65536 means 1 ‰ of duty per rpm of error.
 *
 * Overflow analysis (magnitudes; every value stays an int32):
 *   |error| <= 10 000 rpm < 2^14;  kpQ16, kiQ16 < 2^17
 *   kp·error < 2^31;  integralQ16 is clamped to [0, 1000 · 2^16] < 2^26;  ki·error < 2^31
 *   kp·error + integral < 2^31 + 2^26, held exactly by a double (C: int64_t), then floored by 2^16.
 */
import { defineLaw, readI32Le, writeI32Le, type PlantDefinition } from 'tmr';

const Q16_ONE = 65_536;
const DUTY_PERMILLE_MAX = 1000;
const INTEGRAL_Q16_MAX = DUTY_PERMILLE_MAX * Q16_ONE;

interface FanPiState {
  kpQ16: number;
  kiQ16: number;
  /** The integral term, ‰ of duty in Q16.16, kept in [0, INTEGRAL_Q16_MAX] (anti-windup). */
  integralQ16: number;
}

export default defineLaw<FanPiState>({
  name: 'fan-pi',
  version: 1,
  inputs: [
    { name: 'setpointRpm', unit: 'rpm', min: 0, max: 10_000 },
    { name: 'speedRpm', unit: 'rpm', min: 0, max: 10_000 },
  ],
  // The duty cycle is voted exactly: correct replicas agree to the bit. Safe: the fan off.
  outputs: [{ name: 'dutyPermille', unit: '‰', min: 0, max: DUTY_PERMILLE_MAX, safe: 0, vote: 'exact' }],
  params: [
    { name: 'kpQ16', min: 0, max: (1 << 17) - 1, default: 6_554 }, // 0.1 ‰ per rpm
    { name: 'kiQ16', min: 0, max: (1 << 17) - 1, default: 66 }, // 0.001 ‰ per rpm and tick (at 200 Hz)
  ],
  stateSizeBytes: 4,
  init: (params) => ({ kpQ16: params[0]!, kiQ16: params[1]!, integralQ16: 0 }),
  step(s, inputs, outputs) {
    const errorRpm = inputs[0]! - inputs[1]!;
    const integral = s.integralQ16 + s.kiQ16 * errorRpm;
    s.integralQ16 = integral < 0 ? 0 : integral > INTEGRAL_Q16_MAX ? INTEGRAL_Q16_MAX : integral;
    const duty = Math.floor((s.kpQ16 * errorRpm + s.integralQ16) / Q16_ONE);
    outputs[0] = duty < 0 ? 0 : duty > DUTY_PERMILLE_MAX ? DUTY_PERMILLE_MAX : duty;
  },
  // The whole state that changes: the integral. The gains come back from the params at init.
  serialize(s, out) {
    writeI32Le(out, 0, s.integralQ16);
  },
  deserialize(s, bytes) {
    const integral = readI32Le(bytes, 0);
    if (integral < 0 || integral > INTEGRAL_Q16_MAX) return `integral ${integral} is outside 0..${INTEGRAL_Q16_MAX}`;
    s.integralQ16 = integral;
    return null;
  },
});

/** The fan at full duty, rpm, and how fast it gets there (first-order lag), s. */
const FAN_RPM_MAX = 8_000;
const FAN_TIME_CONSTANT_S = 0.5;

/**
 * The world the law runs against in simulation: the `plant` export of a law module is its default
 * plant. Floats are fine here: the plant is not replicated, only the law is. 3000 rpm for the
 * first half of the run, 5000 rpm after.
 */
export const plant: PlantDefinition = {
  kind: 'tmr-plant',
  name: 'fan',
  inputs: ['setpointRpm', 'speedRpm'],
  outputs: ['dutyPermille'],
  tracking: { setpoint: 'setpointRpm', measured: 'speedRpm', unit: 'rpm' },
  create({ rateHz, ticks }) {
    let speedRpm = 0;
    let dutyPermille = 0;
    const step = 1 / rateHz / FAN_TIME_CONSTANT_S;
    return {
      actuatorCounters: { watchdogTrips: 0, commandsRejected: 0 },
      sense(tick, inputs) {
        inputs[0] = tick < ticks / 2 ? 3_000 : 5_000;
        inputs[1] = Math.round(speedRpm);
      },
      actuate(_tick, commands) {
        dutyPermille = commands[0]!;
        speedRpm += ((FAN_RPM_MAX * dutyPermille) / DUTY_PERMILLE_MAX - speedRpm) * step;
      },
      enterSafeState() {
        dutyPermille = 0;
      },
    };
  },
};
