// The process logger: pino, JSON lines on stdout (pipe through pino-pretty to read them by eye).
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Settings } from './config/settings.js';

export type { Logger };

/**
 * A pino logger at the configured level. `name` tags every line (e.g. the role or component);
 * `destination` is for tests that want to read the lines back.
 */
export function createLogger(
  settings: Pick<Settings, 'logLevel'>,
  name?: string,
  destination?: DestinationStream,
): Logger {
  const options = { level: settings.logLevel, ...(name !== undefined ? { name } : {}) };
  return destination === undefined ? pino(options) : pino(options, destination);
}
