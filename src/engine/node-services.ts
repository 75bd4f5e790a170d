import type { Logger } from 'pino';
import type { NodeServices } from './node-api.js';
import type { ScriptEngine } from './script/script-api.js';

/** The services of issue-2 nodes, from the process's logger and script engine. */
export function createNodeServices(logger: Logger, scripts: ScriptEngine): NodeServices {
  return {
    scripts,
    logger: {
      info: (text) => logger.info(text),
      warn: (text) => logger.warn(text),
      error: (text) => logger.error(text),
    },
    now: () => Date.now(),
  };
}
