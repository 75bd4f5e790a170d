// In Chromium: sign-in, the header (role, tenant), the device list (search, paging, create, access
// token, live connection state), at desktop and phone sizes.
import { expect } from 'chai';
import {
  chromiumMissingReason,
  DESKTOP,
  horizontalOverflow,
  openBrowser,
  PASSWORD,
  PHONE,
  screenshot,
  signIn,
  startDashboard,
  waitForCount,
  waitForText,
  type Browser,
  type DashboardFixture,
} from './harness.js';

describe('dashboard in Chromium: sign-in and devices', function () {
  this.timeout(60_000);
  let fx: DashboardFixture;
  let browser: Browser;

  before(async function () {
    const missing = chromiumMissingReason();
    if (missing) {
      console.log(`    SKIPPED (browser tests): ${missing}`);
      this.skip();
    }
    fx = await startDashboard();
    browser = await openBrowser(DESKTOP);
  });
  after(async () => {
    await browser?.close();
    await fx?.close();
  });
  afterEach(function () {
    // Every page error fails the test that caused it.
    const problems = browser?.problems.splice(0) ?? [];
    if (this.currentTest?.state === 'passed' && problems.length > 0) throw new Error(`browser problems:\n${problems.join('\n')}`);
  });

  it('refuses a wrong password, then signs in and shows the role and the tenant', async () => {
    const { page } = browser;
    await page.goto(`${fx.url}/`);
    await page.fill('input[name=username]', fx.world.admin.email);
    await page.fill('input[name=password]', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.form-error:text("Wrong e-mail or password")');
    await screenshot(page, 'login-desktop');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('header.top .user-email');
    expect(await page.textContent('header .user-email')).to.equal('admin@acme.example');
    expect(await page.textContent('header .badge.role')).to.equal('TENANT_ADMIN');
    expect(await page.textContent('header .tenant')).to.equal('Acme Greenhouses');
    await page.waitForSelector('.live-dot[data-state=open]');
  });

  it('lists devices with live connection state, pages and searches them', async () => {
    const { page } = browser;
    await page.waitForSelector('.device-row');
    // Newest first, ten per page: Boiler, Greenhouse vent, then sensors.
    const names = await page.$$eval('.device-row', (rows) => rows.map((r) => r.getAttribute('data-device-name')));
    expect(names).to.have.length(10);
    expect(names.slice(0, 2)).to.deep.equal(['Boiler', 'Greenhouse vent']);
    expect(await page.textContent('.pager .muted')).to.equal('page 1 of 2 · 14 devices');
    const boiler = `.device-row[data-device-id="${fx.world.boiler.id.id}"] .conn`;
    const vent = `.device-row[data-device-id="${fx.world.greenhouse.id.id}"] .conn`;
    await page.waitForSelector(`${boiler}[data-state=online]`);
    await page.waitForSelector(`${vent}[data-state=offline]`);
    await screenshot(page, 'devices-desktop');

    // The simulated device disconnects and comes back (MQTT).
    await fx.disconnect(fx.world.boiler);
    await page.waitForSelector(`${boiler}[data-state=offline]`);
    await fx.connect(fx.world.boiler);
    await page.waitForSelector(`${boiler}[data-state=online]`);

    await page.click('.pager button:text("Next")');
    await waitForCount(page, '.device-row', 4);
    await page.fill('input[name=search]', 'sensor 0');
    await waitForCount(page, '.device-row', 9);
    await waitForText(page, '.pager .muted', 'page 1 of 1 · 9 devices');
    await page.fill('input[name=search]', 'nothing like this');
    await page.waitForSelector('.device-list .empty');
    await page.fill('input[name=search]', '');
    await waitForCount(page, '.device-row', 10);
  });

  it('shows a device\'s access token', async () => {
    const { page } = browser;
    const credentials = await fx.store.credentials.findByDeviceId(fx.world.tenant.id.id, fx.world.boiler.id.id);
    const row = `.device-row[data-device-id="${fx.world.boiler.id.id}"]`;
    await page.click(`${row} button:text("Access token")`);
    await page.waitForSelector(`${row} code.token`);
    expect(await page.textContent(`${row} code.token`)).to.equal(credentials?.credentialsId);
  });

  it('creates a device (and shows its token), and says why a name is refused', async () => {
    const { page } = browser;
    await page.click('.create-device summary');
    await page.click('.create-device button[type=submit]');
    expect(await page.textContent('.create-device .form-error')).to.equal('A name is needed.');
    await page.fill('.create-device input[name=name]', 'Irrigation pump');
    await page.fill('.create-device input[name=label]', 'field 3');
    await page.click('.create-device button[type=submit]');
    await page.waitForSelector('.create-device .created code.token');
    const created = await fx.store.devices.findByName(fx.world.tenant.id.id, 'Irrigation pump');
    expect(created?.label).to.equal('field 3');
    const token = await fx.store.credentials.findByDeviceId(fx.world.tenant.id.id, created?.id.id as string);
    expect(await page.textContent('.create-device .created code.token')).to.equal(token?.credentialsId);
    await page.waitForSelector('.device-row[data-device-name="Irrigation pump"]');
    // The same name again: the API's error, shown with its status code.
    await page.fill('.create-device input[name=name]', 'Irrigation pump');
    await page.click('.create-device button[type=submit]');
    await page.waitForSelector('.create-device .result.bad[data-status="400"]');
    await screenshot(page, 'devices-create-desktop');
  });

  it('fits a phone screen (390×844) without sideways scrolling', async () => {
    const { page } = browser;
    await page.setViewportSize(PHONE);
    await page.goto(`${fx.url}/#/devices`);
    await page.waitForSelector('.device-row');
    const { overflow, culprits } = await horizontalOverflow(page);
    expect(overflow, culprits.join('\n')).to.be.at.most(0);
    await screenshot(page, 'devices-phone');
    await page.setViewportSize(DESKTOP);
  });

  it('shows a customer user their customer\'s devices only, without the tenant pages', async () => {
    const { page } = browser;
    await page.click('header button:text("Sign out")');
    await page.waitForSelector('input[name=username]');
    await signIn(page, fx.url, fx.world.customerUser.email);
    expect(await page.textContent('header .badge.role')).to.equal('CUSTOMER_USER');
    expect(await page.textContent('header .tenant')).to.equal('North Farm');
    await page.waitForSelector('.device-row');
    const names = await page.$$eval('.device-row', (rows) => rows.map((r) => r.getAttribute('data-device-name')));
    expect(names).to.deep.equal(['Boiler']);
    expect(await page.$('header nav a[href="#/chains"]')).to.equal(null);
    expect(await page.$('.create-device')).to.equal(null);
  });

  it('goes back to sign-in, saying why, when the token is refused', async () => {
    const { page } = browser;
    const expired = await fx.jwt.accessToken(fx.world.admin, { expiresAt: Math.floor(Date.now() / 1000) - 5 });
    await page.evaluate(`sessionStorage.setItem('rpc-chains.token', ${JSON.stringify(expired)})`);
    await page.goto(`${fx.url}/#/devices`);
    await page.reload();
    await page.waitForSelector('input[name=username]');
    expect(await page.textContent('.login .notice')).to.match(/^Signed out: Token has expired/);
  });
});
