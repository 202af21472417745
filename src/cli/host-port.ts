import { UsageError } from '../config/fields.js';

/** HOST:PORT or [IPv6]:PORT; `portMin` 0 allows "any free port" (listening). */
export function parseHostPort(text: string, label: string, portMin: 0 | 1): { host: string; port: number } {
  const match = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (match === null) throw new UsageError(`${label}: '${text}' is not HOST:PORT (an IPv6 address in brackets: [::1]:7001)`);
  const port = Number(match[2]);
  if (port < portMin || port > 65_535) throw new UsageError(`${label} '${text}': the port must be ${portMin}..65535, got ${port}`);
  return { host: match[1] as string, port };
}
