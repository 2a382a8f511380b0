/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the whole
 * simulated world in one process, in manual world time: the test moves the world (rig.waitFor)
 * and then waits, in real time, for the page to show what happened. The page is loaded through
 * a TCP proxy so a test can cut its connections. Screenshots of the main views (1280x800) go to
 * test-results/dashboard/.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { channelOpen, control, testRig } from '../sim/rig-helpers.ts';
import { chromiumTool, openBrowser, type Browser } from './chromium.ts';
import { tcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** The page's document, as the functions run in the browser (page.waitForFunction) see it. */
declare const document: {
  querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): { length: number };
};

const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';
export const SCREENSHOTS = new URL('../../test-results/dashboard/', import.meta.url).pathname;
/** Real time the page gets to show a state the world has reached (it polls every second). */
const SHOWN_MS = 20_000;
/** Real time a long advance of world time may take on a small machine (every timer in it runs). */
const ADVANCE_MS = 300_000;

/** The page's machine state of a device (data-machine), as JSON. */
async function pageMachine(page: Page, role: 'hot' | 'cold'): Promise<unknown> {
  return JSON.parse((await page.getAttribute(`[data-testid=${role}-machine]`, 'data-machine')) ?? 'null');
}

async function text(page: Page, testid: string): Promise<string> {
  return ((await page.textContent(`[data-testid=${testid}]`)) ?? '').trim();
}

async function waitText(page: Page, testid: string, expected: string): Promise<void> {
  await page.waitForFunction(([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() === want, [testid, expected] as const, { timeout: SHOWN_MS });
}

/** Clicks a control and waits (up to ADVANCE_MS) for the rig's answer: `data-runs` on `counter` counts them. */
async function clickAndWait(page: Page, button: string, counter: string): Promise<void> {
  const before = Number(await page.getAttribute(`[data-testid=${counter}]`, 'data-runs'));
  await page.click(`[data-testid=${button}]`);
  await page.waitForFunction(([id, n]) => Number(document.querySelector(`[data-testid="${id}"]`)?.getAttribute('data-runs')) > n, [counter, before] as const, { timeout: ADVANCE_MS });
}

async function tab(page: Page, name: string): Promise<void> {
  await page.click(`[data-testid=tab-${name}]`);
  await page.waitForSelector(`[data-testid=view-${name}]`, { timeout: SHOWN_MS });
}

async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png` });
}

/** The stream footer's numbers: status, last sequence number, connections made, events held. */
async function streamState(page: Page): Promise<{ status: string; lastSeq: number; connects: number; count: number }> {
  return page.$eval('[data-testid=stream-status]', (el) => ({
    status: el.getAttribute('data-status') ?? '',
    lastSeq: Number(el.getAttribute('data-last-seq')),
    connects: Number(el.getAttribute('data-connects')),
    count: Number(el.getAttribute('data-count')),
  }));
}

/** Waits until the page holds every event the rig has published (none missed, none twice). */
async function caughtUp(page: Page, rig: Rig): Promise<void> {
  const want = rig.events.lastSeq;
  await page.waitForFunction(
    (seq) => {
      const el = document.querySelector('[data-testid=stream-status]');
      return el?.getAttribute('data-status') === 'live' && Number(el.getAttribute('data-last-seq')) >= seq;
    },
    want,
    { timeout: SHOWN_MS },
  );
  const state = await streamState(page);
  expect(state.count).toBe(state.lastSeq);
}

describe.skipIf(!chromiumTool.available)('the dashboard in Chromium, the world in one process', () => {
  let rig: Rig;
  let browser: Browser;
  let proxy: TcpProxy;
  let page: Page;

  beforeAll(async () => {
    rig = await testRig({ seed: 'dashboard' });
    proxy = await tcpProxy(rig.ready.control);
    browser = await openBrowser();
    page = browser.page;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await rig?.stop();
  }, 120_000);

  it('is announced in the ready information and loads with no console errors; the device states match /status', async () => {
    expect(rig.ready.dashboard).toBe(`${rig.ready.control}/dashboard/`);
    await channelOpen(rig);
    await page.goto(`${proxy.url}/dashboard/`);
    await page.waitForSelector('[data-testid=device-hot]', { timeout: SHOWN_MS });
    const status = await control(rig, '/status');
    const states = status.body.devices as { hot: string; cold: string };
    // The world stands still between advances: the page must come to show exactly this.
    await page.waitForFunction(
      ([hot, cold]) => {
        const machine = (role: string): unknown => JSON.parse(document.querySelector(`[data-testid=${role}-machine]`)?.getAttribute('data-machine') ?? 'null');
        const h = machine('hot');
        return (typeof h === 'string' ? h : Object.keys(h as object)[0]) === hot && JSON.stringify(machine('cold')) === JSON.stringify(cold);
      },
      [states.hot, JSON.parse(states.cold)] as const,
      { timeout: SHOWN_MS },
    );
    expect(await pageMachine(page, 'cold')).toEqual(JSON.parse(states.cold));
    expect(await text(page, 'hot-state')).toBe('running');
    expect(await text(page, 'cold-state')).toBe('running');
    expect(await text(page, 'link-state')).toBe('up');
    const cId = rig.vDevice?.currentChannel()?.cId as number;
    await waitText(page, 'channel-current-cid', String(cId));
    await caughtUp(page, rig);
    await shoot(page, 'overview');
    expect(browser.errors).toEqual([]);
  }, 300_000);

  it('a withdrawal submitted from the form goes through and its row reaches "confirmed"', async () => {
    await tab(page, 'withdrawals');
    const before = rig.vweb.withdrawals.length;
    await page.fill('[data-testid=outs]', `${PAYEE},15000`);
    await page.selectOption('[data-testid=dynamic]', '0');
    await page.click('[data-testid=withdraw]');
    await page.waitForSelector('[data-testid=queued]', { timeout: SHOWN_MS });
    expect(rig.vweb.withdrawals.length).toBe(before + 1);
    const queued = rig.vweb.withdrawals[before];
    expect(queued?.payload).toMatchObject({ outs: `${PAYEE},15000`, dynamic: 0 });
    const vtestId = queued?.vtestId as number;
    const row = `[data-testid=withdrawal][data-user-tx-no="${vtestId}"]`;
    await page.waitForSelector(row, { timeout: SHOWN_MS });

    await rig.waitFor(() => {
      const txHash = rig.vweb.withdrawal(vtestId)?.txHash;
      const tx = txHash === undefined ? undefined : rig.chain.transaction(txHash);
      return tx !== undefined && rig.chain.confirmations(tx) >= 1;
    }, 'the withdrawal to be confirmed', 3_600_000);
    await page.waitForSelector(`${row}[data-status=confirmed]`, { timeout: SHOWN_MS });
    const reached = await page.$$eval(`${row} td.stage.reached`, (cells) => cells.length);
    expect(reached).toBe(7);
    expect(await page.textContent(row)).toContain(rig.vweb.withdrawal(vtestId)?.txHash?.slice(0, 5));

    // One over HSM-Cold's per-request limit: refused, and the row says by whom and why.
    await page.fill('[data-testid=outs]', `${PAYEE},150000000`);
    await page.click('[data-testid=withdraw]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=withdrawal]').length > n, 1, { timeout: SHOWN_MS });
    const refusedId = rig.vweb.withdrawals[before + 1]?.vtestId as number;
    await rig.waitFor(() => rig.vweb.withdrawal(refusedId)?.state === 'failed', 'the refusal to reach vweb', 3_600_000);
    const refusedRow = `[data-testid=withdrawal][data-user-tx-no="${refusedId}"]`;
    await page.waitForSelector(`${refusedRow}[data-status=refused]`, { timeout: SHOWN_MS });
    expect(await page.textContent(`${refusedRow} [data-testid=refusal]`)).toMatch(/^HSM-Cold: POLICY_MAX_PER_TX/);
    await shoot(page, 'withdrawals');
    expect(browser.errors).toEqual([]);
  }, 300_000);

  it('a bad form value shows the field\'s error and changes nothing', async () => {
    await tab(page, 'withdrawals');
    const withdrawals = rig.vweb.withdrawals.length;
    const seq = rig.events.lastSeq;
    await page.fill('[data-testid=outs]', `${PAYEE},12x`);
    await page.click('[data-testid=withdraw]');
    await page.waitForSelector('[data-testid=error-outs]', { timeout: SHOWN_MS });
    expect(await text(page, 'error-outs')).toMatch(/outs\[0\]\.value must be a positive integer/);
    expect(await page.getAttribute('[data-testid=outs]', 'aria-invalid')).toBe('true');

    // A time the control API refuses, next to its field in the world-time bar.
    const now = rig.clock.now();
    await page.fill('[data-testid=advance-to]', 'tomorrow at noon');
    await page.click('[data-testid=advance-go]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=error-to]')?.textContent ?? '').trim() !== '', undefined, { timeout: SHOWN_MS });
    expect(await text(page, 'error-to')).toMatch(/to/);
    expect(rig.clock.now()).toBe(now);
    expect(rig.vweb.withdrawals.length).toBe(withdrawals);
    expect(rig.events.since(seq).filter((e) => e.type === 'vweb.withdrawal-queued' || e.type === 'fault.injected')).toEqual([]);
    await shoot(page, 'withdrawal-error');
    // Chromium reports each refused request (HTTP 400) on the console; nothing else may be there.
    expect(browser.errors).toEqual(Array(2).fill('console: Failed to load resource: the server responded with a status of 400 (Bad Request)'));
    browser.errors.length = 0;
  }, 120_000);

  it('a carrier outage switched on from the page shows the next SMS HSM-Cold sends leaving on SIM2', async () => {
    const { coldSim1, coldSim2, vDevice } = rig.ready.numbers;
    await tab(page, 'gsm');
    await page.click('[data-testid=carrier-A-outage]');
    await waitText(page, 'carrier-A-state', 'outage');
    expect(rig.network.isCarrierUp('A')).toBe(false);
    const seq = rig.events.lastSeq;

    // The V-Device's number asks SIM2 for batch 0's signature: HSM-Cold's answer is the next SMS it sends.
    await page.selectOption('[data-testid=sms-from]', vDevice);
    await page.selectOption('[data-testid=sms-to]', coldSim2);
    await page.fill('[data-testid=sms-text]', 'CC:VERIFY_COLD_ADDRESSES:0:BTC:');
    await page.click('[data-testid=sms-send]');
    await rig.waitFor(() => rig.events.since(seq).some((e) => e.type === 'sms.sent' && (e.from === coldSim1 || e.from === coldSim2)), "HSM-Cold's next SMS", 1_800_000);
    const next = rig.events.since(seq).find((e) => e.type === 'sms.sent' && (e.from === coldSim1 || e.from === coldSim2));
    expect(next).toMatchObject({ from: coldSim2, to: vDevice, carrier: 'B', kind: 'addresses' });
    await rig.waitFor(() => rig.events.since(seq).some((e) => e.type === 'sms.delivered' && e.submissionId === next?.submissionId), 'its delivery', 600_000);

    const bubble = `[data-testid=sms][data-seq="${next?.seq}"]`;
    await page.waitForSelector(`${bubble}[data-fate=delivered]`, { timeout: SHOWN_MS });
    expect(await page.getAttribute(bubble, 'data-from')).toBe(coldSim2);
    expect(await page.textContent(bubble)).toContain('HSM-Cold SIM2 → V-Device');
    await shoot(page, 'gsm');

    await page.click('[data-testid=carrier-A-outage]');
    await waitText(page, 'carrier-A-state', 'up');
    expect(rig.network.isCarrierUp('A')).toBe(true);
    expect(browser.errors).toEqual([]);
  }, 300_000);

  it('advancing to the window and on through the rotation shows the new channel', async () => {
    await tab(page, 'overview');
    const before = rig.vDevice?.currentChannel()?.cId as number;
    await waitText(page, 'channel-current-cid', String(before));
    const nextWindow = Date.parse(await page.getAttribute('[data-testid=next-window]', 'data-iso') ?? '');
    expect(new Date(nextWindow).toISOString()).toMatch(/T15:00:00/); // 23:00 in Shanghai
    // Eight hours of world time run every timer in them: wait for the advance to finish.
    await clickAndWait(page, 'advance-window', 'world-time');
    expect(rig.clock.now()).toBe(nextWindow);
    await waitText(page, 'window-state', 'open');
    // The V-Device's daily alarm (03:00 UTC+8) starts the rotation: the page's next rotation.
    const nextRotation = Date.parse(await page.getAttribute('[data-testid=next-rotation]', 'data-iso') ?? '');
    expect(new Date(nextRotation).toISOString()).toMatch(/T19:00:00/); // 03:00 in Shanghai
    expect(nextRotation).toBeGreaterThan(nextWindow);
    await clickAndWait(page, 'advance-rotation', 'world-time');
    expect(rig.clock.now()).toBe(nextRotation);
    await rig.waitFor(
      () => (rig.vDevice?.currentChannel()?.cId ?? 0) > before && rig.events.find((e) => e.type === 'cold.channel.opened' && e.cId === rig.vDevice?.currentChannel()?.cId) !== undefined,
      'the new channel',
      1_800_000,
    );
    const after = rig.vDevice?.currentChannel()?.cId as number;
    await waitText(page, 'channel-current-cid', String(after));
    await waitText(page, 'channel-previous-cid', String(before));
    expect(await text(page, 'channel-previous-status')).toBe('retired');
    await shoot(page, 'rotation');
    await tab(page, 'audit');
    await page.waitForSelector('[data-testid=audit-cold-verified]', { timeout: SHOWN_MS });
    expect(await text(page, 'audit-hot-verified')).toBe('chain verified');
    expect(await text(page, 'audit-cold-verified')).toBe('chain verified');
    await shoot(page, 'audit');
    expect(browser.errors).toEqual([]);
  }, 600_000);

  it('resumes the stream with Last-Event-ID after a dropped connection, and after a reload', async () => {
    await tab(page, 'gsm');
    await caughtUp(page, rig);
    const before = await streamState(page);
    const bubbles = await page.$$eval('[data-testid=sms]', (els) => els.length);
    expect(bubbles).toBeGreaterThan(0);

    // The network drops: the stream reconnects on its own, asking for what came after.
    const sentBefore = proxy.sent().length;
    expect(proxy.cutAll()).toBeGreaterThan(0);
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=stream-status]')?.getAttribute('data-connects')) > n, before.connects, { timeout: SHOWN_MS });
    const resumedWith = /GET \/events[^\r\n]*\r\n(?:[^\r\n]+\r\n)*?last-event-id: (\d+)\r\n/i.exec(proxy.sent().slice(sentBefore));
    expect(Number(resumedWith?.[1])).toBe(before.lastSeq);
    await control(rig, '/control/sms', { from: rig.ready.numbers.admin, to: rig.ready.numbers.vDevice, text: 'CC:PING' });
    await rig.waitFor(() => rig.network.deliveries({ to: rig.ready.numbers.admin }).some((d) => d.text === 'ping is ok'), 'the PING answer', 600_000);
    await caughtUp(page, rig);
    expect((await streamState(page)).lastSeq).toBeGreaterThan(before.lastSeq);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=sms]').length > n, bubbles, { timeout: SHOWN_MS });

    // A reload starts afresh from the rig's record: the same history, then what comes next.
    const shown = await page.$$eval('[data-testid=sms]', (els) => els.map((e) => e.getAttribute('data-seq')));
    await page.reload();
    await page.waitForSelector('[data-testid=view-gsm]', { timeout: SHOWN_MS });
    await caughtUp(page, rig);
    expect(await page.$$eval('[data-testid=sms]', (els) => els.map((e) => e.getAttribute('data-seq')))).toEqual(shown);
    const seq = rig.events.lastSeq;
    await rig.advance(60_000);
    await rig.waitFor(() => rig.events.lastSeq > seq, 'a new event', 600_000);
    await caughtUp(page, rig);
    // Network errors of the deliberate cut are the only console errors allowed here.
    expect(browser.errors.filter((e) => !/net::ERR_|Failed to fetch|network error/i.test(e))).toEqual([]);
  }, 300_000);

  it('shows when the rig has stopped', async () => {
    await rig.stop();
    await page.waitForSelector('[data-testid=rig-stopped]', { timeout: SHOWN_MS });
    expect(await text(page, 'rig-stopped')).toMatch(/simulation has stopped/);
  }, 120_000);
});

describe.skipIf(!chromiumTool.available)('the dashboard in Chromium, the devices in their own processes', () => {
  let rig: Rig;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    rig = await testRig({ seed: 'dashboard-processes', processes: true });
    browser = await openBrowser();
    page = browser.page;
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.stop();
  }, 120_000);

  it('shows what each device process reports, and a power cut from the page restarts the device on a new boot epoch', async () => {
    await channelOpen(rig);
    await page.goto(rig.ready.dashboard);
    await page.waitForSelector('[data-testid=device-cold]', { timeout: SHOWN_MS });
    expect(await page.textContent("header.top")).toContain("devices in separate processes");
    const states = (await control(rig, '/status')).body.devices as { hot: string; cold: string };
    await page.waitForFunction((cold) => document.querySelector('[data-testid=cold-machine]')?.getAttribute('data-machine') === cold, JSON.stringify(JSON.parse(states.cold)), {
      timeout: SHOWN_MS,
    });
    expect(await text(page, 'hot-state')).toBe(states.hot);
    await waitText(page, 'link-state', 'up');
    const epoch = Number(await text(page, 'cold-epoch'));
    expect(epoch).toBeGreaterThanOrEqual(1);
    expect(browser.errors).toEqual([]);

    // The rig kills the process, starts it again on the same state directory and unlocks it.
    await clickAndWait(page, 'kill-cold', 'kill-cold');
    await waitText(page, 'cold-epoch', String(epoch + 1));
    // World time moves only when the test moves it: on until HSM-Cold's modems are back too.
    await rig.waitFor(() => JSON.stringify(JSON.parse(rig.devices.states().cold)) === JSON.stringify({ running: { link: 'up', modems: 'usable', channel: 'open', upkeep: 'waiting' } }), 'HSM-Cold back in full', 600_000);
    await page.waitForFunction((cold) => document.querySelector('[data-testid=cold-machine]')?.getAttribute('data-machine') === cold, JSON.stringify(JSON.parse(rig.devices.states().cold)), {
      timeout: SHOWN_MS,
    });
    await waitText(page, 'cold-state', 'running');
    await waitText(page, 'link-state', 'up');
    expect(rig.events.find((e) => e.type === 'fault.injected' && e.fault === 'kill' && e.device === 'cold')).toBeDefined();
    await tab(page, 'audit');
    await waitText(page, 'audit-cold-verified', 'chain verified');
    await tab(page, 'overview');
    await shoot(page, 'processes');
    expect(browser.errors).toEqual([]);
  }, 600_000);
});
