// The rpc-chains command line: start, validate, run.
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { loadSettings, SettingsError, type Settings } from './config/settings.js';
import { createLogger } from './logging.js';
import { createScriptEngine } from './engine/script/index.js';
import { createNodeServices } from './engine/node-services.js';
import { builtinRegistry } from './nodes/index.js';
import { validateFiles } from './cli/validate.js';
import { formatRunReport, runChainFile } from './cli/run-chain.js';
import { ChainImportError } from './engine/importer/chain-model.js';
import { msgFromJson } from './msg/tb-msg.js';
import { startServer } from './server.js';
import { simulatorCli } from './simulator/index.js';

const USAGE = `rpc-chains: ThingsBoard-compatible rule chains and device RPC

Usage:
  rpc-chains start                              start the server (settings from the environment, see README)
  rpc-chains validate FILE...                   import rule-chain exports and report each one
  rpc-chains run CHAIN.json --msg '<TbMsg JSON>' [--with OTHER.json ...]
                                                run one message through a chain and print every step
  rpc-chains simulate --token TOKEN [--protocol mqtt|http|coap] [...]
                                                a simulated device (rpc-chains simulate --help)
`;

function services(settings: Settings) {
  const logger = createLogger({ logLevel: settings.logLevel === 'info' ? 'warn' : settings.logLevel }, 'cli');
  return createNodeServices(logger, createScriptEngine({ timeoutMs: settings.scriptTimeoutMs, memoryLimitMb: settings.scriptMemoryMb }));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const settings = loadSettings();
  switch (command) {
    case 'validate': {
      if (rest.length === 0) {
        process.stderr.write('validate: name at least one rule-chain file\n');
        return 2;
      }
      const svc = services(settings);
      const lines = await validateFiles(rest, builtinRegistry(), svc);
      svc.scripts.dispose();
      for (const line of lines) process.stdout.write(`${line.text}\n`);
      return lines.every((l) => l.ok) ? 0 : 1;
    }
    case 'run': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { msg: { type: 'string' }, with: { type: 'string', multiple: true } } });
      if (positionals.length !== 1 || values.msg === undefined) {
        process.stderr.write(USAGE);
        return 2;
      }
      let msgJson: unknown;
      try {
        msgJson = JSON.parse(values.msg);
      } catch (e) {
        process.stderr.write(`run: --msg is not valid JSON: ${(e as Error).message}\n`);
        return 2;
      }
      const svc = services(settings);
      try {
        const report = await runChainFile(positionals[0], values.with ?? [], msgFromJson(msgJson), builtinRegistry(), svc);
        process.stdout.write(`${formatRunReport(report)}\n`);
        return report.outcome.status === 'success' ? 0 : 1;
      } catch (e) {
        if (e instanceof ChainImportError || e instanceof TypeError) {
          process.stderr.write(`run: ${e.message}\n`);
          return 1;
        }
        throw e;
      } finally {
        svc.scripts.dispose();
      }
    }
    case 'simulate':
      return simulatorCli(rest);
    case 'start':
      await startServer(settings);
      return -1; // keeps running until a signal
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof SettingsError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
