import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_SETTINGS, loadSettings, SettingsError } from '../../../src/config/settings.js';
import { createLogger } from '../../../src/logging.js';

function errorOf(fn: () => unknown): SettingsError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(SettingsError);
    return e as SettingsError;
  }
  throw new Error('expected a SettingsError');
}

describe('loadSettings', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'rpc-chains-settings-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function file(content: unknown, name = 'config.json'): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  it('gives the defaults for an empty environment', () => {
    const s = loadSettings({});
    expect(s).to.deep.equal(DEFAULT_SETTINGS);
    expect(s).to.deep.include({
      redisUrl: undefined,
      dataDir: './data',
      httpPort: 8080,
      mqttPort: 1883,
      coapPort: 5683,
      host: '0.0.0.0',
      logLevel: 'info',
      demo: true,
      scriptTimeoutMs: 500,
      scriptMemoryMb: 64,
      maxRuleNodeExecutionsPerMessage: 50,
      trace: false,
      serviceId: undefined,
      healthPort: undefined,
      mqttTimeoutMs: 10000,
      coapTimeoutMs: 10000,
      clientSideRpcTimeoutMs: 60000,
      inactivityTimeoutMs: 600000,
    });
    expect(s.roles).to.deep.equal(['api', 'transport', 'rule-engine']);
  });

  it('reads every variable from the environment', () => {
    const s = loadSettings({
      REDIS_URL: 'redis://redis.local:6380/2',
      DATA_DIR: '/var/lib/rpc-chains',
      HTTP_PORT: '9090',
      MQTT_PORT: '0',
      COAP_PORT: ' 5684 ',
      HOST: '127.0.0.1',
      ROLES: 'api, rule-engine',
      LOG_LEVEL: 'debug',
      DEMO: 'false',
      SCRIPT_TIMEOUT_MS: '250',
      SCRIPT_MEMORY_MB: '128',
      MAX_RULE_NODE_EXECUTIONS_PER_MESSAGE: '0',
      TRACE: 'yes',
      SERVICE_ID: 'rpc-chains-1',
      HEALTH_PORT: '9100',
      MQTT_TIMEOUT: '2000',
      COAP_TIMEOUT: '3000',
      CLIENT_SIDE_RPC_TIMEOUT: '4000',
      DEVICE_INACTIVITY_TIMEOUT: '5000',
    });
    expect(s).to.deep.equal({
      redisUrl: 'redis://redis.local:6380/2',
      dataDir: '/var/lib/rpc-chains',
      httpPort: 9090,
      mqttPort: 0,
      coapPort: 5684,
      host: '127.0.0.1',
      roles: ['api', 'rule-engine'],
      logLevel: 'debug',
      demo: false,
      scriptTimeoutMs: 250,
      scriptMemoryMb: 128,
      maxRuleNodeExecutionsPerMessage: 0,
      trace: true,
      serviceId: 'rpc-chains-1',
      healthPort: 9100,
      mqttTimeoutMs: 2000,
      coapTimeoutMs: 3000,
      clientSideRpcTimeoutMs: 4000,
      inactivityTimeoutMs: 5000,
    });
  });

  it('accepts the usual spellings of booleans', () => {
    for (const [raw, value] of [['1', true], ['ON', true], ['True', true], ['0', false], ['no', false], ['off', false]] as const) {
      expect(loadSettings({ TRACE: raw }).trace, raw).to.equal(value);
    }
  });

  it('treats an empty variable as unset', () => {
    expect(loadSettings({ REDIS_URL: '', HTTP_PORT: '  ', ROLES: '' })).to.deep.equal(DEFAULT_SETTINGS);
  });

  it('returns a frozen object', () => {
    const s = loadSettings({});
    expect(Object.isFrozen(s)).to.equal(true);
    expect(Object.isFrozen(s.roles)).to.equal(true);
    expect(Object.isFrozen(DEFAULT_SETTINGS)).to.equal(true);
  });

  it('reads the file named by RPC_CHAINS_CONFIG, and the environment wins over it', () => {
    const path = file({ httpPort: 8081, mqttPort: 1884, roles: ['transport'], demo: false, redisUrl: null });
    const s = loadSettings({ RPC_CHAINS_CONFIG: path, MQTT_PORT: '1999' });
    expect(s.httpPort).to.equal(8081);
    expect(s.mqttPort).to.equal(1999);
    expect(s.roles).to.deep.equal(['transport']);
    expect(s.demo).to.equal(false);
    expect(s.redisUrl).to.equal(undefined);
  });

  it('prefers opts.file over RPC_CHAINS_CONFIG', () => {
    const a = file({ httpPort: 1001 }, 'a.json');
    const b = file({ httpPort: 1002 }, 'b.json');
    expect(loadSettings({ RPC_CHAINS_CONFIG: a }, { file: b }).httpPort).to.equal(1002);
  });

  describe('errors name the variable and what it must be', () => {
    const cases: [Record<string, string>, string][] = [
      [{ MQTT_PORT: 'abc' }, 'MQTT_PORT: must be an integer from 0 to 65535, got "abc"'],
      [{ HTTP_PORT: '70000' }, 'HTTP_PORT: must be an integer from 0 to 65535, got "70000"'],
      [{ COAP_PORT: '0x10' }, 'COAP_PORT: must be an integer from 0 to 65535, got "0x10"'],
      [{ SCRIPT_TIMEOUT_MS: '1.5' }, 'SCRIPT_TIMEOUT_MS: must be an integer from 1 to 600000'],
      [{ SCRIPT_MEMORY_MB: '4' }, 'SCRIPT_MEMORY_MB: must be an integer from 8 to 65536'],
      [{ MAX_RULE_NODE_EXECUTIONS_PER_MESSAGE: '-1' }, 'MAX_RULE_NODE_EXECUTIONS_PER_MESSAGE: must be an integer >= 0'],
      [{ DEMO: 'maybe' }, 'DEMO: must be true or false'],
      [{ TRACE: '2' }, 'TRACE: must be true or false'],
      [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
      [{ ROLES: 'api,worker' }, 'ROLES: must be a comma-separated list of api, transport, rule-engine'],
      [{ ROLES: 'api,api' }, 'ROLES: must be a comma-separated list'],
      [{ ROLES: ',' }, 'ROLES: must be a comma-separated list'],
      [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL: must be a redis:// or rediss:// URL'],
      [{ HOST: 'my host' }, 'HOST: must be a host name or IP address'],
      [{ SERVICE_ID: 'a/b' }, 'SERVICE_ID: must be 1 to 64 letters'],
    ];
    for (const [env, message] of cases) {
      const [name, value] = Object.entries(env)[0]!;
      it(`${name}=${JSON.stringify(value)}`, () => {
        expect(errorOf(() => loadSettings(env)).message).to.include(message);
      });
    }

    it('reports every wrong variable at once, one problem each', () => {
      const e = errorOf(() => loadSettings({ MQTT_PORT: 'x', HTTP_PORT: '-5', ROLES: 'a,b' }));
      expect(e.problems).to.have.length(3);
      expect(e.problems.map((p) => p.split(':')[0])).to.have.members(['MQTT_PORT', 'HTTP_PORT', 'ROLES']);
    });

    it('names unknown keys in the file, with a hint', () => {
      const path = file({ httpPort: 1, colour: 'blue', MQTT_PORT: 1 });
      const e = errorOf(() => loadSettings({ RPC_CHAINS_CONFIG: path }));
      expect(e.message).to.include(`RPC_CHAINS_CONFIG=${path}: unknown key "colour"; known keys: redisUrl,`);
      expect(e.message).to.include('unknown key "MQTT_PORT"; did you mean "mqttPort"?');
    });

    it('names a wrong key in the file with its JSON value', () => {
      const path = file({ mqttPort: '1883', roles: 'api', demo: 'yes' });
      const e = errorOf(() => loadSettings({}, { file: path }));
      expect(e.message).to.include('"mqttPort" must be an integer from 0 to 65535, got "1883"');
      expect(e.message).to.include('"roles" must be a non-empty array of "api", "transport", "rule-engine"');
      expect(e.message).to.include('"demo" must be true or false, got "yes"');
      expect(e.problems).to.have.length(3);
    });

    it('says when the file cannot be read or is not a JSON object', () => {
      expect(errorOf(() => loadSettings({ RPC_CHAINS_CONFIG: join(dir, 'missing.json') })).message).to.match(
        /^RPC_CHAINS_CONFIG=.*missing\.json: cannot read the file \(ENOENT/,
      );
      expect(errorOf(() => loadSettings({}, { file: file('{ nope', 'bad.json') })).message).to.include('not valid JSON');
      expect(errorOf(() => loadSettings({}, { file: file([1], 'array.json') })).message).to.include('must be a JSON object');
    });

    it('still checks the environment when the file is wrong', () => {
      const e = errorOf(() => loadSettings({ RPC_CHAINS_CONFIG: join(dir, 'missing.json'), HTTP_PORT: 'x' }));
      expect(e.problems).to.have.length(2);
    });
  });
});

describe('createLogger', () => {
  it('writes JSON lines at the configured level, tagged with the name', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ logLevel: 'warn' }, 'test', sink);
    logger.info('hidden');
    logger.warn('shown');
    expect(lines).to.have.length(1);
    expect(JSON.parse(lines[0]!)).to.include({ name: 'test', msg: 'shown', level: 40 });
  });
});
