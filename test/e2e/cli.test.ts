// The command line as a user runs it: a real child process through bin/rpc-chains.js.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exampleFiles, EXAMPLES_DIR } from '../helpers/examples.js';
import { chainDoc } from '../helpers/chain-builder.js';

const BIN = fileURLToPath(new URL('../../bin/rpc-chains.js', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('rpc-chains command line', function () {
  this.timeout(30_000);

  it('validate: one line per file, exit 0 only when all are OK', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rc-cli-'));
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    await writeFile(good, JSON.stringify(chainDoc('good', [{ type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 's' }], [])));
    await writeFile(bad, JSON.stringify(chainDoc('bad', [{ type: 'org.thingsboard.rule.engine.filter.TbJsFilterNode', name: 'broken', configuration: { scriptLang: 'JS', jsScript: 'return (' } }], [])));
    const onlyGood = await cli('validate', good);
    expect(onlyGood.code).to.equal(0);
    expect(onlyGood.stdout.trim()).to.equal(`OK ${good} nodes=1 connections=0`);
    const both = await cli('validate', good, bad);
    expect(both.code).to.equal(1);
    const lines = both.stdout.trim().split('\n');
    expect(lines[0]).to.equal(`OK ${good} nodes=1 connections=0`);
    expect(lines[1]).to.match(new RegExp(`^ERROR ${bad}: /metadata/nodes/0/configuration/jsScript \\(node #0 "broken"\\): .*line 1`));
  });

  it('validate: every real export and every shipped chain is OK', async () => {
    const shipped = ['root_rule_chain.json', 'device_to_related_device.json', 'persistent_rpc_events.json'].map((f) => fileURLToPath(new URL(`../../rule-chains/${f}`, import.meta.url)));
    const r = await cli('validate', ...exampleFiles(), ...shipped);
    expect(r.code, r.stdout).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).to.have.length(exampleFiles().length + shipped.length);
    for (const line of lines) expect(line).to.match(/^OK .+ nodes=\d+ connections=\d+$/);
  });

  it('run: prints each step and the outputs', async () => {
    const file = join(EXAMPLES_DIR, 'thingsboard.github.io__docs__transformation-rule-chain.json');
    const msg = { type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: 'd1' }, data: { temperature: 100 } };
    const dir = await mkdtemp(join(tmpdir(), 'rc-cli-'));
    const doc = chainDoc('transform', [
      { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
      { type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode', name: 'F to C', configuration: { scriptLang: 'JS', jsScript: 'msg.temperature = Math.round((msg.temperature - 32) * 5 / 9); return {msg: msg, metadata: metadata, msgType: msgType};' } },
    ], [[0, 1, 'Post telemetry']]);
    const runnable = join(dir, 'transform.json');
    await writeFile(runnable, JSON.stringify(doc));
    const r = await cli('run', runnable, '--msg', JSON.stringify(msg));
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/step  \[transform\] "switch" → Post telemetry/);
    expect(r.stdout).to.match(/step  \[transform\] "F to C" → Success/);
    expect(r.stdout).to.match(/out   \[transform\] "F to C" on Success: type=POST_TELEMETRY_REQUEST data=\{"temperature":38\}/);
    expect(r.stdout).to.match(/done  success, 2 node steps/);
    // The real export saves time series: without Redis that step fails, and says why.
    const withStore = await cli('run', file, '--msg', JSON.stringify({ ...msg, tenantId: 'tenant-1' }));
    expect(withStore.code).to.equal(1);
    expect(withStore.stdout).to.match(/"SaveTS" → Failure .*needs the Redis store/);
  });

  it('run: a bad --msg is a clear error', async () => {
    const file = join(EXAMPLES_DIR, 'thingsboard__blackbox__ruleChainForImport.json');
    const notJson = await cli('run', file, '--msg', '{oops');
    expect(notJson.code).to.equal(2);
    expect(notJson.stderr).to.match(/--msg is not valid JSON/);
    const noType = await cli('run', file, '--msg', '{"originator":{"entityType":"DEVICE","id":"d"}}');
    expect(noType.code).to.equal(1);
    expect(noType.stderr).to.match(/message field "type" must be a non-empty string/);
  });

  it('names a wrong setting and stops', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'validate', 'x.json'], { env: { ...process.env, MAX_RULE_NODE_EXECUTIONS_PER_MESSAGE: 'lots' } }, (error, _out, stderr) =>
        resolve({ code: error ? 1 : 0, stderr }),
      );
    });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/MAX_RULE_NODE_EXECUTIONS_PER_MESSAGE/);
  });
});
