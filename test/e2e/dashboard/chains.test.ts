// In Chromium: rule chains (list, import from a file with the importer's errors by node, set root),
// the picture of a chain, and the live trace of a device's messages through it.
import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromiumMissingReason,
  DESKTOP,
  horizontalOverflow,
  openBrowser,
  PHONE,
  screenshot,
  signIn,
  startDashboard,
  waitForCount,
  waitForText,
  type Browser,
  type DashboardFixture,
} from './harness.js';

const E = 'org.thingsboard.rule.engine.';
const js = (jsScript: string) => ({ scriptLang: 'JS', jsScript, tbelScript: '' });

/** A chain with a layout, a filter, a transform that fails on demand, and two logs. */
function greenhouseChain(name: string, filterScript = 'return msg.temperature > 30;', extraNodes: object[] = []) {
  const node = (type: string, nodeName: string, x: number, y: number, configuration: object = {}) => ({
    type: E + type,
    name: nodeName,
    debugMode: false,
    configurationVersion: 0,
    configuration,
    additionalInfo: { layoutX: x, layoutY: y, description: '' },
  });
  return {
    ruleChain: { name, type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null, additionalInfo: null },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        node('filter.TbMsgTypeSwitchNode', 'Message Type Switch', 320, 150, { version: 0 }),
        node('filter.TbJsFilterNode', 'Hot?', 600, 60, js(filterScript)),
        node('transform.TbTransformMsgNode', 'Flag hot', 880, 60, js('if (msg.fail) { throw new Error("sensor glitch"); } msg.hot = true; return {msg: msg, metadata: metadata, msgType: msgType};')),
        node('action.TbLogNode', 'Log hot', 1160, 60, js('return "hot " + JSON.stringify(msg);')),
        node('action.TbLogNode', 'Log other', 880, 260, js('return "other " + JSON.stringify(msg);')),
        ...extraNodes,
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
        { fromIndex: 0, toIndex: 4, type: 'Other' },
        { fromIndex: 1, toIndex: 2, type: 'True' },
        { fromIndex: 1, toIndex: 4, type: 'False' },
        { fromIndex: 2, toIndex: 3, type: 'Success' },
      ],
      ruleChainConnections: null,
    },
  };
}

describe('dashboard in Chromium: rule chains and the live trace', function () {
  this.timeout(90_000);
  let fx: DashboardFixture;
  let browser: Browser;
  let dir: string;

  before(async function () {
    const missing = chromiumMissingReason();
    if (missing) {
      console.log(`    SKIPPED (browser tests): ${missing}`);
      this.skip();
    }
    fx = await startDashboard({ shippedRoot: false });
    dir = await mkdtemp(join(tmpdir(), 'rpc-chains-dashboard-'));
    browser = await openBrowser(DESKTOP);
    await signIn(browser.page, fx.url, fx.world.admin.email);
  });
  after(async () => {
    await browser?.close();
    await fx?.close();
  });
  afterEach(function () {
    const problems = browser?.problems.splice(0) ?? [];
    if (this.currentTest?.state === 'passed' && problems.length > 0) throw new Error(`browser problems:\n${problems.join('\n')}`);
  });

  const upload = async (fileName: string, content: string) => {
    const path = join(dir, fileName);
    await writeFile(path, content);
    await browser.page.setInputFiles('input[name=chainFile]', path);
  };

  it('shows the importer\'s errors by node, in a list and on the picture of the file; stores nothing', async () => {
    const { page } = browser;
    await page.click('header nav a[href="#/chains"]');
    await page.waitForSelector('.chain-list .empty');
    await upload('broken.json', '{ "ruleChain": { "name": "x" }, }');
    await waitForText(page, '.import-info', /broken\.json is not valid JSON: line 1, column \d+/);
    expect(await page.isDisabled('.import-box button:text("Import")')).to.equal(true);

    const broken = greenhouseChain('Broken', 'return msg.temperature > ;', [
      { type: `${E}foo.TbNoSuchNode`, name: 'Mystery', configuration: {}, additionalInfo: { layoutX: 600, layoutY: 260 } },
    ]);
    await upload('broken-chain.json', JSON.stringify(broken));
    await waitForText(page, '.import-info', 'broken-chain.json: "Broken", 6 nodes, 5 connections.');
    await page.click('.import-box button:text("Import")');
    await page.waitForSelector('.import-box .result[data-status="400"]');
    await page.waitForSelector('.issue-group');
    const groups = await page.$$eval('.issue-group', (els) => els.map((e) => e.getAttribute('data-node-index')));
    expect(groups).to.include('5');
    expect(await page.textContent('.issue-group[data-node-index="5"] strong')).to.equal('Node #5 "Mystery" (TbNoSuchNode)');
    // The failing nodes are red on the preview.
    await page.waitForSelector('.import-preview .node.failed[data-index="5"]');
    await screenshot(page, 'import-errors-desktop');
    expect(await fx.store.ruleChains.list(fx.world.tenant.id.id)).to.have.length(0);
  });

  it('shows a script that does not compile at its node', async () => {
    const { page } = browser;
    await upload('bad-script.json', JSON.stringify(greenhouseChain('Bad script', 'return msg.temperature > ;')));
    await page.click('.import-box button:text("Import")');
    await page.waitForSelector('.issue-group[data-node-index="1"]');
    expect(await page.textContent('.issue-group[data-node-index="1"] strong')).to.equal('Node #1 "Hot?" (TbJsFilterNode)');
    await page.waitForSelector('.import-preview .node.failed[data-index="1"]');
  });

  it('imports chains, marks the root, and sets another root', async () => {
    const { page } = browser;
    await upload('shipped-root.json', await (await import('node:fs/promises')).readFile(fileURLToPath(new URL('../../../rule-chains/root_rule_chain.json', import.meta.url)), 'utf8'));
    // Whatever the importer says of the shipped chain, its picture is drawn from the file.
    await page.waitForSelector('.import-preview svg.chain-svg .node[data-index="0"]');
    await upload('greenhouse.json', JSON.stringify(greenhouseChain('Greenhouse')));
    await page.check('.import-box input[name=root]');
    await page.click('.import-box button:text("Import")');
    await page.waitForSelector('.import-box .result[data-status="200"]');
    await page.waitForSelector('.chain-row.root[data-chain-name="Greenhouse"] .root-badge');
    await page.uncheck('.import-box input[name=root]');
    await upload('second.json', JSON.stringify(greenhouseChain('Second')));
    await page.click('.import-box button:text("Import")');
    await page.waitForSelector('.chain-row[data-chain-name="Second"]');
    expect(await page.$('.chain-row[data-chain-name="Second"] .root-badge')).to.equal(null);
    await page.click('.chain-row[data-chain-name="Second"] button:text("Make root")');
    await page.waitForSelector('.chain-row.root[data-chain-name="Second"]');
    await waitForCount(page, '.chain-row.root', 1);
    await page.click('.chain-row[data-chain-name="Greenhouse"] button:text("Make root")');
    await page.waitForSelector('.chain-row.root[data-chain-name="Greenhouse"]');
    await screenshot(page, 'chains-desktop');
  });

  it('draws a chain: nodes at their layout, coloured by category, connections labelled', async () => {
    const { page } = browser;
    await page.click('.chain-row[data-chain-name="Greenhouse"] a:text("Picture")');
    await page.waitForSelector('.chain-page svg.chain-svg');
    await waitForCount(page, '.chain-page .node', 6); // five nodes and "Input"
    expect(await page.getAttribute('.chain-page .node[data-index="1"] .node-box', 'fill')).to.equal('#f1e861'); // filter
    expect(await page.getAttribute('.chain-page .node[data-index="2"] .node-box', 'fill')).to.equal('#79cef1'); // transformation
    expect(await page.getAttribute('.chain-page .node[data-index="3"] .node-box', 'fill')).to.equal('#f1928f'); // action
    expect(await page.getAttribute('.chain-page .node[data-index="0"]', 'transform')).to.equal('translate(320 150)');
    const labels = await page.$$eval('.chain-page .edge', (els) => els.map((e) => e.getAttribute('data-relations')));
    expect(labels).to.have.members(['Post telemetry', 'Other', 'True', 'False', 'Success', '']);
    // Left to right: the filter is drawn right of the switch, as laid out.
    const sw = await page.locator('.chain-page .node[data-index="0"]').boundingBox();
    const hot = await page.locator('.chain-page .node[data-index="1"]').boundingBox();
    expect(hot && sw && hot.x > sw.x + sw.width).to.equal(true);
    await page.click('.chain-page .node[data-index="1"]');
    await waitForText(page, '.node-details h4', 'Hot?');
    expect(await page.textContent('.node-details pre')).to.include('msg.temperature > 30');
    await screenshot(page, 'chain-picture-desktop');
  });

  it('traces a device\'s messages over the chain: the path, time per node, and errors in red', async () => {
    const { page } = browser;
    const { boiler, greenhouse } = fx.world;
    await page.goto(`${fx.url}/#/trace`);
    await page.waitForSelector(`.trace-page select[name=device] option[value="${boiler.id.id}"]`, { state: 'attached' });
    await page.selectOption('.trace-page select[name=device]', boiler.id.id);
    await page.waitForSelector(`.trace-page[data-tracing="${boiler.id.id}"]`);
    await page.waitForSelector('.trace-pictures svg.chain-svg');

    await fx.deviceMessage(greenhouse, 'POST_TELEMETRY_REQUEST', { temperature: 50 }); // another device: not shown
    await fx.deviceMessage(boiler, 'POST_TELEMETRY_REQUEST', { temperature: 35 });
    await waitForCount(page, '.walks .walk', 1);
    await page.waitForSelector('.trace-pictures .node.visited[data-index="3"]');
    const visited = await page.$$eval('.trace-pictures .node.visited', (els) => els.map((e) => e.getAttribute('data-index')));
    expect(visited).to.have.members(['-1', '0', '1', '2', '3']);
    const taken = await page.$$eval('.trace-pictures .edge.traversed', (els) => els.map((e) => e.getAttribute('data-edge')));
    expect(taken).to.have.members(['-1>0', '0>1', '1>2', '2>3']);
    expect(await page.textContent('.trace-pictures .node[data-index="2"] .node-badge')).to.match(/^\d+\.\d\d ms$/);
    await waitForCount(page, '.steps-table tbody tr', 4);
    await screenshot(page, 'trace-desktop');

    await fx.deviceMessage(boiler, 'POST_TELEMETRY_REQUEST', { temperature: 40, fail: true });
    await waitForCount(page, '.walks .walk', 2);
    await page.waitForSelector('.trace-pictures .node.failed[data-index="2"]');
    expect(await page.$('.trace-pictures .node.visited[data-index="3"]')).to.equal(null);
    expect(await page.textContent('.steps-table tr.failed .error-cell')).to.include('sensor glitch');
    await page.waitForSelector('.walks .walk.failed');
    await screenshot(page, 'trace-error-desktop');

    // Picking the first walk again shows its path.
    await page.click('.walks li:nth-child(2) .walk');
    await page.waitForSelector('.trace-pictures .node.visited[data-index="3"]');
    expect(await page.isChecked('.trace-page input[name=follow]')).to.equal(false);

    await fx.deviceMessage(boiler, 'GREENHOUSE_DOOR_OPENED', { x: 1 }); // not a known type: "Other"
    await waitForCount(page, '.walks .walk', 3);
    await page.check('.trace-page input[name=follow]');
    await page.waitForSelector('.trace-pictures .edge.traversed[data-edge="0>4"]');
  });

  it('fits a phone screen (390×844) on the chain and trace pages', async () => {
    const { page } = browser;
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(200);
    let o = await horizontalOverflow(page);
    expect(o.overflow, o.culprits.join('\n')).to.be.at.most(0);
    await screenshot(page, 'trace-phone');
    await page.goto(`${fx.url}/#/chains`);
    await page.waitForSelector('.chain-row');
    o = await horizontalOverflow(page);
    expect(o.overflow, o.culprits.join('\n')).to.be.at.most(0);
    await screenshot(page, 'chains-phone');
    await page.click('.chain-row[data-chain-name="Greenhouse"] a:text("Picture")');
    await page.waitForSelector('.chain-page svg.chain-svg');
    o = await horizontalOverflow(page);
    expect(o.overflow, o.culprits.join('\n')).to.be.at.most(0);
    await screenshot(page, 'chain-picture-phone');
    await page.setViewportSize(DESKTOP);
  });
});
