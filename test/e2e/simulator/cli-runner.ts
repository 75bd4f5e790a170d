// `rpc-chains simulate` as a process, until src/main.ts dispatches to it: argv → simulatorCli.
import { simulatorCli } from '../../../src/simulator/index.js';

process.exitCode = await simulatorCli(process.argv.slice(2));
