// In Chromium: the RPC widgets of a device page, each sending real RPCs through the REST API, the
// rule engine (the shipped root chain's RPC call request) and MQTT to the project's device
// simulator, and showing result, status code and round-trip time.
import { expect } from 'chai';
import type { Simulator } from '../../../src/simulator/index.js';
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

describe('dashboard in Chromium: RPC widgets (real RPC path, simulated MQTT device)', function () {
  this.timeout(120_000);
  let fx: DashboardFixture;
  let browser: Browser;
  let boilerId: string;
  let sim: Simulator;

  const console = (sel = '') => `[data-widget=console] ${sel}`;
  const widget = (name: string, sel = '') => `[data-widget=${name}] ${sel}`;
  const lastCall = (method: string) => sim.received.filter((c) => c.method === method).at(-1);
  const callsOf = (method: string) => sim.received.filter((c) => c.method === method).length;
  /** The device goes away and comes back with the state it had (a reboot keeps its relays). */
  const offline = () => fx.disconnect(fx.world.boiler);
  const online = async () => {
    sim = await fx.connect(fx.world.boiler, { value: sim.state.value, gpio: { ...sim.state.gpio } });
  };

  before(async function () {
    const missing = chromiumMissingReason();
    if (missing) {
      globalThis.console.log(`    SKIPPED (browser tests): ${missing}`);
      this.skip();
    }
    fx = await startDashboard();
    boilerId = fx.world.boiler.id.id;
    await fx.disconnect(fx.world.boiler);
    sim = await fx.connect(fx.world.boiler, { value: true, gpio: { '7': false, '11': true, '12': false, '13': false } });
    browser = await openBrowser(DESKTOP);
    await signIn(browser.page, fx.url, fx.world.admin.email);
    // Widget settings live in localStorage: short timeouts, so an offline device answers 504 soon.
    const prefs: Record<string, unknown> = {
      [`switch.${boilerId}`]: { timeout: 1000 },
      [`gpio.${boilerId}`]: { timeout: 1000 },
      [`knob.${boilerId}`]: { timeout: 1000 },
      [`led.${boilerId}`]: { timeout: 1000, intervalSec: 1 },
    };
    for (const [key, value] of Object.entries(prefs)) {
      await browser.page.evaluate(`localStorage.setItem(${JSON.stringify(`rpc-chains.${key}`)}, ${JSON.stringify(JSON.stringify(value))})`);
    }
    await browser.page.goto(`${fx.url}/#/devices/${boilerId}`);
    await browser.page.waitForSelector(console());
  });
  after(async () => {
    await browser?.close();
    await fx?.close();
  });
  afterEach(function () {
    const problems = browser?.problems.splice(0) ?? [];
    if (this.currentTest?.state === 'passed' && problems.length > 0) throw new Error(`browser problems:\n${problems.join('\n')}`);
  });

  it('shows the device with its live connection state', async () => {
    const { page } = browser;
    expect(await page.textContent('.device-title h2')).to.equal('Boiler');
    await page.waitForSelector('.device-title .conn[data-state=online]');
    expect(await page.textContent('.device-title .conn')).to.equal('online');
  });

  it('switch: reads the device state, sets it, shows only what the device confirmed', async () => {
    const { page } = browser;
    await page.waitForSelector(widget('switch', '.switch[data-state=on]'));
    expect(await page.textContent(widget('switch', '.state-text'))).to.equal('Device confirmed: ON');
    expect(await page.getAttribute(widget('switch', '.result'), 'data-status')).to.equal('200');
    expect(await page.textContent(widget('switch', '.result .rtt'))).to.match(/^\d+ ms$/);
    await page.click(widget('switch', '.switch'));
    await page.waitForSelector(widget('switch', '.switch[data-state=off]'));
    expect(sim.state.value).to.equal(false);
    expect(lastCall('setValue')?.params).to.equal(false);
  });

  it('switch: a 504 (device offline) puts it in a plain error state, and the next success clears it', async () => {
    const { page } = browser;
    await offline();
    await page.waitForSelector('.device-title .conn[data-state=offline]');
    await page.click(widget('switch', '.switch'));
    await page.waitForSelector(`[data-widget=switch][data-state=error]`);
    expect(await page.getAttribute(widget('switch', '.result'), 'data-status')).to.equal('504');
    expect(await page.textContent(widget('switch', '.result .meaning'))).to.equal('device offline or no reply in time');
    expect(await page.textContent(widget('switch', '.state-text'))).to.equal('Device offline or not answering (504). Last confirmed: OFF.');
    await screenshot(page, 'switch-offline-desktop');
    await online();
    await page.waitForSelector('.device-title .conn[data-state=online]');
    await page.click(widget('switch', 'button:text("Read state")'));
    await page.waitForSelector(`[data-widget=switch][data-state=off]`);
    expect(await page.textContent(widget('switch', '.state-text'))).to.equal('Device confirmed: OFF');
  });

  it('console: validates params as JSON (line and column), sends two-way and one-way calls, keeps a history', async () => {
    const { page } = browser;
    await page.fill(console('input[name=method]'), 'setGpio');
    await page.fill(console('textarea.json'), '{\n  "pin": 23,\n  "value": 1,\n}');
    await waitForText(page, console('.json-status'), /^line 4, column 1: /);
    expect(await page.isDisabled(console('button[type=submit]'))).to.equal(true);
    await page.fill(console('textarea.json'), '{\n  "pin": 23,\n  "value": 1\n}');
    await waitForText(page, console('.json-status'), 'valid JSON');
    await page.click(console('button[type=submit]'));
    await page.waitForSelector(console('.result[data-status="200"]'));
    // The simulator echoes methods it does not know.
    expect(JSON.parse((await page.textContent(console('.result .reply'))) as string)).to.deep.equal({ method: 'setGpio', params: { pin: 23, value: 1 } });
    expect(await page.textContent(console('.result .rtt'))).to.match(/^\d+ ms$/);

    await page.check(console('input[value=oneway]'));
    await page.fill(console('input[name=method]'), 'reboot');
    await page.fill(console('textarea.json'), 'true');
    await page.click(console('button[type=submit]'));
    await page.waitForSelector(console('.result[data-status="200"] .meaning:text("OK (no reply body)")'));
    expect(lastCall('reboot')?.params).to.equal(true);

    await page.check(console('input[value=twoway]'));
    await page.fill(console('input[name=method]'), 'getValue');
    await page.fill(console('textarea.json'), '{}');
    await page.click(console('button[type=submit]'));
    await waitForText(page, console('.result .reply'), 'false');

    await waitForCount(page, console('.history li'), 3);
    expect(await page.textContent(console('.history li:first-child .what strong'))).to.equal('getValue');
    // Replaying fills the form again.
    await page.click(console('.history li:nth-child(3) button'));
    expect(await page.inputValue(console('input[name=method]'))).to.equal('setGpio');
    expect(JSON.parse(await page.inputValue(console('textarea.json')))).to.deep.equal({ pin: 23, value: 1 });
    await screenshot(page, 'console-desktop');
  });

  it('GPIO panel: shows the pins from the settings, reads and toggles them', async () => {
    const { page } = browser;
    await page.click(widget('gpio', 'button:text("Read pins")'));
    await page.waitForSelector(widget('gpio', '.gpio-pin[data-pin="11"][data-state=on]'));
    expect(await page.getAttribute(widget('gpio', '.gpio-pin[data-pin="7"]'), 'data-state')).to.equal('off');
    await page.click(widget('gpio', '.gpio-pin[data-pin="7"]'));
    await page.waitForSelector(widget('gpio', '.gpio-pin[data-pin="7"][data-state=on]'));
    expect(sim.state.gpio['7']).to.equal(true);
    expect(lastCall('setGpioStatus')?.params).to.deep.equal({ pin: 7, enabled: true });
    // New pins from the settings.
    await page.click(widget('gpio', 'details.settings summary'));
    await page.fill(widget('gpio', 'textarea[name=pins]'), '7: Relay\n40: Heater');
    await page.click(widget('gpio', '.settings-form button[type=submit]'));
    await waitForCount(page, widget('gpio', '.gpio-pin'), 2);
    expect(await page.textContent(widget('gpio', '.gpio-pin[data-pin="40"] .pin-label'))).to.equal('Heater');
    await page.click(widget('gpio', '.gpio-pin[data-pin="40"]'));
    await page.waitForSelector(widget('gpio', '.gpio-pin[data-pin="40"][data-state=on]'));
    await page.fill(widget('gpio', 'textarea[name=pins]'), '7: Relay\nseven');
    await page.click(widget('gpio', '.settings-form button[type=submit]'));
    await waitForText(page, widget('gpio', '.settings-form .form-error'), /line 2/);
  });

  it('knob: sends a number within min/max with setValue and shows the confirmed value', async () => {
    const { page } = browser;
    await page.click(widget('knob', 'details.settings summary'));
    await page.fill(widget('knob', 'input[name=min]'), '10');
    await page.fill(widget('knob', 'input[name=max]'), '5');
    await page.click(widget('knob', '.settings-form button[type=submit]'));
    await waitForText(page, widget('knob', '.settings-form .form-error'), 'Min must be below max.');
    await page.fill(widget('knob', 'input[name=max]'), '30');
    await page.click(widget('knob', '.settings-form button[type=submit]'));
    await waitForText(page, widget('knob', '.limits'), '1030');
    // The slider: fill() sets the value and fires input and change.
    await page.fill(widget('knob', 'input[type=range]'), '24');
    await waitForText(page, widget('knob', '.state-text'), 'Device confirmed: 24');
    expect(sim.state.value).to.equal(24);
    expect(await page.textContent(widget('knob', '.knob-text'))).to.equal('24');
    expect(await page.getAttribute(widget('knob', '.result'), 'data-status')).to.equal('200');
    // Dragging the knob past its right end clamps to max.
    const box = await page.locator(widget('knob', 'svg.knob')).boundingBox();
    if (!box) throw new Error('no knob');
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.9);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.98, box.y + box.height, { steps: 5 });
    await page.mouse.up();
    await waitForText(page, widget('knob', '.state-text'), 'Device confirmed: 30');
    expect(sim.state.value).to.equal(30);
  });

  it('LED indicator: polls checkStatus and shows on, offline, and off', async () => {
    const { page } = browser;
    await page.waitForSelector('[data-widget=led][data-state=on]');
    await offline();
    await page.waitForSelector('[data-widget=led][data-state=offline]', { timeout: 15_000 });
    expect(await page.getAttribute(widget('led', '.result'), 'data-status')).to.equal('504');
    await online();
    await page.waitForSelector('[data-widget=led][data-state=on]', { timeout: 15_000 });
    expect(callsOf('checkStatus')).to.be.at.least(1);
    // Another status method, from the settings: getValue of a device whose value is false.
    sim.state.value = false;
    await page.click(widget('led', 'details.settings summary'));
    await page.fill(widget('led', 'input[name=method]'), 'getValue');
    await page.click(widget('led', '.settings-form button[type=submit]'));
    await page.waitForSelector('[data-widget=led][data-state=off]');
    // Pausing stops the polling.
    await page.click(widget('led', 'button:text("Pause polling")'));
    await page.waitForTimeout(300);
    const before = callsOf('getValue');
    await page.waitForTimeout(2000);
    expect(callsOf('getValue')).to.equal(before);
  });

  it('persistent RPC table: a persistent call appears, its status changes live, filters and deletes', async () => {
    const { page } = browser;
    await page.fill(console('input[name=method]'), 'getValue');
    await page.fill(console('textarea.json'), '{}');
    await page.check(console('input[name=persistent]'));
    await page.fill(console('input[name=timeout]'), '60000');
    await page.fill(console('input[name=retries]'), '2');
    await page.click(console('button[type=submit]'));
    await page.waitForSelector(console('.result[data-status="200"]'));
    const { rpcId } = JSON.parse((await page.textContent(console('.result .reply'))) as string) as { rpcId: string };
    const row = widget('persistent', `tr[data-rpc-id="${rpcId}"]`);
    await page.waitForSelector(row);
    await page.waitForSelector(`${row} .status-badge[data-status=SUCCESSFUL]`);
    // The statuses came through the event stream, in order (DELIVERED may be overtaken by the reply).
    expect(await page.getAttribute(`${row} .status-badge`, 'data-seen')).to.match(/^QUEUED (SENT )?(DELIVERED )?SUCCESSFUL$/);
    expect(await page.textContent(`${row} td.response`)).to.equal('false');
    await screenshot(page, 'device-desktop');

    // An offline device: the call stays QUEUED, then EXPIRED, live.
    await offline();
    await page.fill(console('input[name=method]'), 'setValue');
    await page.fill(console('textarea.json'), '5');
    await page.fill(console('input[name=timeout]'), '1500');
    await page.click(console('button[type=submit]'));
    await page.waitForSelector(widget('persistent', '.status-badge[data-status=QUEUED]'));
    await page.waitForSelector(widget('persistent', '.status-badge[data-status=EXPIRED]'), { timeout: 15_000 });
    await online();

    await page.selectOption(widget('persistent', 'select[name=rpcStatus]'), 'SUCCESSFUL');
    await waitForCount(page, widget('persistent', 'tbody tr[data-rpc-id]'), 1);
    await page.selectOption(widget('persistent', 'select[name=rpcStatus]'), 'EXPIRED');
    await waitForCount(page, widget('persistent', 'tbody tr[data-rpc-id]'), 1);
    await page.selectOption(widget('persistent', 'select[name=rpcStatus]'), '');
    await waitForCount(page, widget('persistent', 'tbody tr[data-rpc-id]'), 2);

    await page.click(`${row} button:text("Delete")`);
    await waitForCount(page, widget('persistent', 'tbody tr[data-rpc-id]'), 1);
    expect(await page.getAttribute(widget('persistent', '.result'), 'data-status')).to.equal('200');
  });

  it('fits a phone screen (390×844): every widget, no sideways scrolling', async () => {
    const { page } = browser;
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(200);
    const { overflow, culprits } = await horizontalOverflow(page);
    expect(overflow, culprits.join('\n')).to.be.at.most(0);
    await screenshot(page, 'device-phone');
    await page.setViewportSize(DESKTOP);
  });

  it('trace: a REST RPC walks through the shipped root chain to "RPC Call Request"', async () => {
    const { page } = browser;
    await page.goto(`${fx.url}/#/trace?device=${boilerId}`);
    await page.waitForSelector(`.trace-page[data-tracing="${boilerId}"]`);
    await page.waitForSelector('.trace-pictures svg.chain-svg');
    const token = (await page.evaluate(`sessionStorage.getItem('rpc-chains.token')`)) as string;
    const res = await fetch(`${fx.url}/api/rpc/twoway/${boilerId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${token}` },
      body: JSON.stringify({ method: 'getValue', params: {} }),
    });
    expect(res.status).to.equal(200);
    await page.waitForSelector('.walks .walk:has-text("RPC_CALL_FROM_SERVER_TO_DEVICE")');
    await page.click('.walks .walk:has-text("RPC_CALL_FROM_SERVER_TO_DEVICE")');
    await page.waitForSelector('.trace-pictures .node.visited[data-name="RPC Call Request"]');
    const taken = await page.$$eval('.trace-pictures .edge.traversed', (els) => els.map((e) => e.getAttribute('data-relations')));
    expect(taken).to.include('RPC Request to Device');
    await screenshot(page, 'trace-rpc-desktop');
  });
});
