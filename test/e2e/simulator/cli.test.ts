// The simulate command line: argument parsing in-process, and a real child process that runs
// against the test HTTP server until SIGINT.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseRequestArg, parseSimulateArgs, simulatorCli, SIMULATE_USAGE, UsageError } from '../../../src/simulator/index.js';
import { CoapPeer, HttpPeer, MqttPeer, waitFor } from './peers.js';

const RUNNER = fileURLToPath(new URL('./cli-runner.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The simulator as a child process; its output lines as they come. */
function spawnSimulator(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let err = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    out.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, stderr: () => err, exit };
}

describe('simulate command line', function () {
  this.timeout(30_000);

  describe('arguments', () => {
    it('defaults: mqtt, 3.1.1, v1 topics, no telemetry', () => {
      const a = parseSimulateArgs(['--token', 'T']);
      expect(a?.options).to.deep.include({ token: 'T', protocol: 'mqtt', mqtt5: false, mqttTopics: 'v1', noAck: false, telemetryIntervalMs: undefined, port: undefined });
      expect(a?.requests).to.deep.equal([]);
    });

    it('every option', () => {
      const a = parseSimulateArgs(['--token', 'T', '--protocol', 'mqtt', '--host', '10.0.0.2', '--port', '11883', '--mqtt5', '--topics', 'v2', '--request', 'getCurrentTime', '--request', 'setTemp:{"t":21}', '--telemetry-every', '2.5', '--oneway', 'setValue', '--no-ack']);
      expect(a?.options).to.deep.equal({ token: 'T', protocol: 'mqtt', host: '10.0.0.2', port: 11883, mqtt5: true, mqttTopics: 'v2', noAck: true, oneway: ['setValue'], telemetryIntervalMs: 2500 });
      expect(a?.requests).to.deep.equal([
        { method: 'getCurrentTime', params: {} },
        { method: 'setTemp', params: { t: 21 } },
      ]);
    });

    it('--request METHOD[:PARAMS_JSON]: the params may hold colons; bad JSON is a usage error', () => {
      expect(parseRequestArg('getTime:{"at":"12:00"}')).to.deep.equal({ method: 'getTime', params: { at: '12:00' } });
      expect(parseRequestArg('m:42')).to.deep.equal({ method: 'm', params: 42 });
      expect(() => parseRequestArg('m:{oops')).to.throw(UsageError, /not JSON/);
      expect(() => parseRequestArg(':1')).to.throw(UsageError, /no method/);
    });

    it('usage errors', () => {
      for (const [args, msg] of [
        [[], /--token is required/],
        [['--token', 'T', '--protocol', 'lwm2m'], /mqtt, http or coap/],
        [['--token', 'T', '--port', '70000'], /not a port/],
        [['--token', 'T', '--telemetry-every', '0'], /seconds > 0/],
        [['--token', 'T', '--protocol', 'http', '--mqtt5'], /for --protocol mqtt/],
        [['--token', 'T', '--bogus'], /Unknown option '--bogus'/],
        [['--token', 'T', 'extra'], /positional/],
      ] as const) {
        expect(() => parseSimulateArgs(args), args.join(' ')).to.throw(UsageError, msg);
      }
    });

    it('simulatorCli: exit 2 with the usage on a usage error, 0 with it on --help', async () => {
      let err = '';
      const out: string[] = [];
      expect(await simulatorCli(['--protocol', 'http'], { out: (l) => out.push(l), err: (t) => (err += t) })).to.equal(2);
      expect(err).to.contain('simulate: --token is required').and.contain(SIMULATE_USAGE);
      expect(await simulatorCli(['--help'], { out: (l) => out.push(l), err: (t) => (err += t) })).to.equal(0);
      expect(out.join('\n')).to.contain('rpc-chains simulate --token TOKEN [options]');
    });

    it('simulatorCli: exit 1 when the token is refused (CoAP 4.01)', async () => {
      const peer = new CoapPeer('T');
      await peer.start();
      let err = '';
      const code = await simulatorCli(['--token', 'WRONG', '--protocol', 'coap', '--port', String(peer.port)], { out: () => {}, err: (t) => (err += t) });
      await peer.close();
      expect(code).to.equal(1);
      expect(err).to.match(/refused the access token \(4\.01\)/);
    });

    it('simulatorCli: exit 1 when it cannot connect', async () => {
      const peer = new MqttPeer('T');
      const port = await peer.start();
      await peer.close();
      let err = '';
      const code = await simulatorCli(['--token', 'T', '--port', String(port)], { out: () => {}, err: (t) => (err += t) });
      expect(code).to.equal(1);
      expect(err).to.match(/simulate: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/);
    });

    it('simulatorCli: a stop request ends it with exit 0 after a clean close', async () => {
      const peer = new MqttPeer('T');
      await peer.start();
      let stop: (sig: string) => void = () => {};
      const stopSignal = new Promise<string>((r) => (stop = r));
      const out: string[] = [];
      const running = simulatorCli(['--token', 'T', '--port', String(peer.port), '--request', 'getCurrentTime'], { out: (l) => out.push(l), err: () => {}, stopSignal });
      await waitFor(() => out.includes('← response 1 1700000000000'), 'the reply line');
      expect(await peer.call(1, 'checkStatus', null)).to.deep.equal({ status: true });
      stop('SIGINT');
      expect(await running).to.equal(0);
      await waitFor(() => peer.last.disconnected, 'the disconnect');
      await peer.close();
    });
  });

  it('a real process over HTTP: prints the request reply, each command and reply, and exits 0 on SIGINT', async () => {
    const peer = new HttpPeer('CLI_TOKEN');
    await peer.start();
    const p = spawnSimulator(['--token', 'CLI_TOKEN', '--protocol', 'http', '--port', String(peer.port), '--request', 'getCurrentTime', '--telemetry-every', '0.2']);
    try {
      await waitFor(() => p.out.includes('← response 1 1700000000000'), `the response line (stderr: ${p.stderr()})`, 20_000);
      await waitFor(() => peer.polling, 'a poll');
      expect(await peer.call(5, 'setGpioStatus', { pin: 7, enabled: true })).to.deep.equal({ '7': true });
      await waitFor(() => peer.telemetry.length >= 2, 'telemetry');
      p.child.kill('SIGINT');
      expect(await p.exit).to.equal(0);
      expect(p.out[0]).to.match(/^connected to http:\/\/127\.0\.0\.1:\d+ .* with token CLI_TOKEN$/);
      expect(p.out).to.include.members(['→ request 1 getCurrentTime {}', '← command 5 setGpioStatus {"pin":7,"enabled":true}', '→ reply 5 {"7":true}', '· stopping']);
      expect(p.out.some((l) => /^→ telemetry \{"temperature":\d+(\.\d)?\}$/.test(l))).to.equal(true);
      expect(peer.abortedPolls).to.equal(1);
    } finally {
      p.child.kill('SIGKILL');
      await peer.close();
    }
  });

  // Exiting on its own after SIGINT proves every socket and timer was released.
  for (const protocol of ['mqtt', 'coap'] as const) {
    it(`a real process over ${protocol.toUpperCase()}: answers, then exits 0 on SIGINT`, async () => {
      const peer = protocol === 'mqtt' ? new MqttPeer('CLI_TOKEN') : new CoapPeer('CLI_TOKEN');
      await peer.start();
      const p = spawnSimulator(['--token', 'CLI_TOKEN', '--protocol', protocol, '--port', String(peer.port), '--request', 'getCurrentTime']);
      try {
        await waitFor(() => p.out.includes('← response 1 1700000000000'), `the response line (stderr: ${p.stderr()})`, 20_000);
        expect(await peer.call(2, 'checkStatus', null)).to.deep.equal({ status: true });
        p.child.kill('SIGINT');
        expect(await p.exit).to.equal(0);
        expect(p.out).to.include.members(['← command 2 checkStatus null', '→ reply 2 {"status":true}', '· stopping']);
        if (peer instanceof CoapPeer) expect(peer.deregistrations).to.have.length(1);
        else await waitFor(() => peer.last.disconnected, 'the disconnect');
      } finally {
        p.child.kill('SIGKILL');
        await peer.close();
      }
    });
  }
});
