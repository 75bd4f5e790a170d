// Device side of the RPC benchmark (scripts/bench/rpc.ts starts it as a child process): N MQTT.js
// clients with TCP_NODELAY and QoS 1 subscriptions that answer every command at once, at QoS 1.
//   mode ours   token bench-rpc-<i>; commands on v1/devices/me/rpc/request/{id}, replies to
//               v1/devices/me/rpc/response/{id} (the ThingsBoard device API of rpc-chains)
//   mode floor  a bare broker (aedes): commands on bench/<i>/request/{id}, replies to
//               bench/<i>/response/{id}
// Reports to the parent over IPC: {t:'ready', connected, ms}, and on {t:'stats'} the number of
// commands answered and the CPU this process used.
//   node --import tsx scripts/bench/rpc-devices.ts --mode=ours --port=1883 [--devices=100]
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';

export const deviceToken = (i: number): string => `bench-rpc-${String(i).padStart(6, '0')}`;
export const floorRequestTopic = (i: number, id: number | string): string => `bench/${i}/request/${id}`;
export const FLOOR_RESPONSE_FILTER = 'bench/+/response/+';
export const REPLY = '{"ok":true}';

export type DevicesToParent =
  | { readonly t: 'ready'; readonly connected: number; readonly ms: number }
  | { readonly t: 'stats'; readonly answered: number; readonly cpuMicros: number }
  | { readonly t: 'error'; readonly message: string };
export type ParentToDevices = { readonly t: 'stats' } | { readonly t: 'exit' };

/** An MQTT.js client (which does not set TCP_NODELAY itself) with TCP_NODELAY on, no reconnects. */
export async function connectNoDelay(url: string, opts: mqtt.IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60, ...opts });
  (client.stream as Socket).setNoDelay(true);
  return client;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'ours' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      devices: { type: 'string', default: '100' },
    },
  });
  const mode = values.mode;
  if (mode !== 'ours' && mode !== 'floor') throw new Error(`--mode must be ours or floor, not ${mode}`);
  const port = Number(values.port);
  const count = Number(values.devices);
  if (!Number.isInteger(port) || port <= 0) throw new Error('--port is required');
  const send = (m: DevicesToParent) => void process.send?.(m);
  const url = `mqtt://${values.host}:${port}`;

  let answered = 0;
  const clients: MqttClient[] = [];
  const started = Date.now();
  const connectOne = async (i: number): Promise<void> => {
    const client = await connectNoDelay(url, mode === 'ours' ? { username: deviceToken(i), clientId: `bench-dev-${i}` } : { clientId: `bench-dev-${i}` });
    client.on('error', (e) => send({ t: 'error', message: `device ${i}: ${e.message}` }));
    const requestPrefix = mode === 'ours' ? 'v1/devices/me/rpc/request/' : `bench/${i}/request/`;
    const responsePrefix = mode === 'ours' ? 'v1/devices/me/rpc/response/' : `bench/${i}/response/`;
    client.on('message', (topic) => {
      if (!topic.startsWith(requestPrefix)) return;
      answered++;
      // At once, from the handler: the reply overtakes MQTT.js' PUBACK of the command.
      client.publish(responsePrefix + topic.slice(requestPrefix.length), REPLY, { qos: 1 });
    });
    await client.subscribeAsync(`${requestPrefix}+`, { qos: 1 });
    clients.push(client);
  };
  // A few at a time: the server authenticates each connection against Redis.
  for (let i = 0; i < count; i += 20) await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, k) => connectOne(i + k)));
  send({ t: 'ready', connected: clients.length, ms: Date.now() - started });

  process.on('message', (m: ParentToDevices) => {
    if (m.t === 'stats') {
      const cpu = process.cpuUsage();
      send({ t: 'stats', answered, cpuMicros: cpu.user + cpu.system });
    } else if (m.t === 'exit') {
      for (const c of clients) c.end(true);
      setTimeout(() => process.exit(0), 100);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: Error) => {
    process.send?.({ t: 'error', message: e.stack ?? e.message } satisfies DevicesToParent);
    console.error(e);
    process.exit(1);
  });
}
