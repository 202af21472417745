// The bench's pty echo board: holds the board end of a pty pair with serialport, exactly as
// firmware-sim/sim-board-main does (same library, same options), and writes back every byte it
// reads. It is the floor of the board round trip: keep it minimal.
//
//   node test/bench/pty-echo.mjs PATH
//
// Prints "ready PATH" once its end is open; exits when its stdin ends (whoever started it is
// gone), on SIGTERM, or when the port closes under it (socat stopped).
import { SerialPort } from 'serialport';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('pty-echo: usage: pty-echo.mjs PATH\n');
  process.exit(2);
}

const port = new SerialPort({ path, baudRate: 115_200, autoOpen: false, lock: false });
port.on('error', (error) => process.stderr.write(`pty-echo: ${error.message}\n`));
port.open((error) => {
  if (error) {
    process.stderr.write(`pty-echo: cannot open ${path}: ${error.message}\n`);
    process.exit(1);
  }
  port.on('data', (chunk) => port.write(chunk));
  port.on('close', () => process.exit(0));
  process.stdout.write(`ready ${path}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
