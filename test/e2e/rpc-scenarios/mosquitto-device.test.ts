// Debian's mosquitto_sub / mosquitto_pub as the device of a REST two-way RPC (S1 with another
// client implementation): mosquitto_sub gets the command, mosquitto_pub publishes the reply on the
// matching response topic, the REST caller gets it.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { rpcPath, startScenarioSystem, VERSIONS, type ScenarioSystem } from './kit.js';

const run = promisify(execFile);

describe('mosquitto_sub / mosquitto_pub as the device of a REST two-way RPC', function () {
  this.timeout(15_000);
  let s: ScenarioSystem;

  before(async function () {
    try {
      await run('mosquitto_pub', ['--help']).catch((e: { code?: unknown }) => {
        if (e.code === 'ENOENT') throw e; // --help exits non-zero; only a missing binary matters
      });
    } catch {
      this.skip(); // apt-get install mosquitto-clients
    }
    s = await startScenarioSystem();
  });
  after(async () => {
    await s?.close();
  });

  for (const v of VERSIONS) {
    it(`${v}: the command reaches mosquitto_sub, mosquitto_pub's reply is the REST answer`, async () => {
      const dev = await s.device(`Mosquitto ${v}`);
      const mqttArgs = ['-h', '127.0.0.1', '-p', String(s.mqttPort), '-u', dev.token, '-V', 'mqttv311'];
      // One command, printed as "<topic> <payload>".
      const sub = spawn('mosquitto_sub', [...mqttArgs, '-q', '1', '-t', 'v1/devices/me/rpc/request/+', '-C', '1', '-v', '-W', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      sub.stdout.on('data', (b: Buffer) => (out += b.toString()));
      sub.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
      try {
        // A lightweight two-way call waits for a subscriber until it expires: no race with mosquitto_sub's start.
        const call = s.api.call('POST', rpcPath(v, 'twoway', dev.id), { token: s.admin, body: { method: 'setValue', params: { on: true }, timeout: 8000 } });
        expect(await exited, `mosquitto_sub: ${err}`).to.equal(0);
        const line = out.trim();
        const space = line.indexOf(' ');
        const topic = line.slice(0, space);
        expect(topic).to.match(/^v1\/devices\/me\/rpc\/request\/\d+$/);
        expect(JSON.parse(line.slice(space + 1))).to.deep.equal({ method: 'setValue', params: { on: true } });
        await run('mosquitto_pub', [...mqttArgs, '-q', '1', '-t', topic.replace('/request/', '/response/'), '-m', '{"on":true,"by":"mosquitto"}']);
        const res = await call;
        expect([res.status, res.json]).to.deep.equal([200, { on: true, by: 'mosquitto' }]);
      } finally {
        if (sub.exitCode === null) sub.kill();
      }
    });
  }
});
