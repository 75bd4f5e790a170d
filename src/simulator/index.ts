// The device simulator: what a user runs before real hardware exists (`rpc-chains simulate`).
export { runSimulator, DEFAULT_PORTS, type Simulator, type SimulatorOptions, type SimulatorProtocol, type ReceivedCommand } from './simulator.js';
export { simulatorCli, parseSimulateArgs, parseRequestArg, SIMULATE_USAGE, UsageError, type SimulateArgs, type SimulatorCliIo } from './cli.js';
export { handleCommand, initialState, type DeviceState } from './behaviour.js';
export type { MqttTopicVariant } from './mqtt-link.js';
