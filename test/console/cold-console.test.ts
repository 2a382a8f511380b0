import { afterEach, describe, expect, it } from 'vitest';
import { formatVDeviceMessage, parseColdMessage } from '../../shared/chaincloud/sms.ts';
import { batchContentString } from '../../shared/crypto/batch-content.ts';
import { bytesToHex, sha256 } from '../../shared/crypto/hash.ts';
import { CHAIN, accountSpec, deriveAddresses, exportAccountXpub, importAccountXpub, mnemonicToSeed, validateMnemonic } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import type { HotSendRequest } from '../../shared/crypto/request-string.ts';
import { identitySigner } from '../../shared/store/identity.ts';
import { auditTail } from '../../shared/store/audit.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { LinkEndpoint } from '../../shared/link/endpoint.ts';
import { DEVICE_MESSAGES } from '../../shared/link/messages.ts';
import { pairingRecord, runPairingExchange } from '../../shared/link/pairing.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import { COLD_COLLECTIONS } from '../../hsm-cold/main.ts';
import { coldConsole } from '../../hsm-cold/console-commands.ts';
import { redactSmsText } from '../../hsm-cold/console-views.ts';
import { MNEMONIC, V_DEVICE, VDeviceKeys, vcCode } from '../cold/fixture.ts';
import { settle, until } from '../cold/world.ts';
import { ColdConsoleRig } from './cold-rig.ts';
import { isAuditBookkeeping, storeSnapshot } from './store-snapshot.ts';

const A = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';

let rig: ColdConsoleRig | undefined;
afterEach(async () => {
  await rig?.shutdown();
  rig = undefined;
});

async function loggedIn(options: Parameters<typeof ColdConsoleRig.create>[0] = {}): Promise<ColdConsoleRig> {
  rig = await ColdConsoleRig.create(options);
  await rig.login();
  rig.fresh();
  return rig;
}

async function openChannel(r: ColdConsoleRig): Promise<{ cId: number; secret: Uint8Array; qh: string }> {
  const w = r.world;
  const key = new VDeviceKeys().next();
  w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-request', qh: key.qh, hId: key.hId }));
  await until(w.clock, () => w.received().length > 0);
  const reply = parseColdMessage(w.received().at(-1)!);
  if (reply.kind !== 'channel-reply') throw new Error('expected QC');
  w.vDeviceSends(formatVDeviceMessage({ kind: 'channel-ok', cId: reply.cId }));
  await until(w.clock, () => w.cold.status().channel?.cId === reply.cId);
  return { cId: reply.cId, secret: key.secret, qh: key.qh };
}

/** Every HSM-Cold record except the console's own, the audit log and the parts that move by themselves. */
const DEVICE_STATE = COLD_COLLECTIONS.filter(
  (c) => !c.name.startsWith('console.') && !c.name.startsWith('gsm.') && !c.name.startsWith('rpc.') && c.name !== 'cold.time-samples' && !isAuditBookkeeping(c),
);

describe('HSM-Cold console: read-only commands on HSM-Cold in the emulated world', () => {
  it('status, link, modem, time and selftest report the running device', async () => {
    const r = await loggedIn();
    const status = await r.enter('status');
    expect(status).toContain('state         running {link:up, modems:usable, channel:none, upkeep:waiting}');
    expect(status).toMatch(/boot epoch\s+1\n/);
    expect(status).toMatch(/firmware\s+0\.1\.0/);
    expect(await r.enter('link')).toMatch(/state\s+up\n[\s\S]*peer identity\s+0[23][0-9a-f]{64}/);
    const modem = await r.enter('modem');
    expect(modem).toMatch(/sim1 +ready +home network +Carrier A +-?\d+ dBm \(\d+\) +…\d{4}/);
    expect(modem).toMatch(/sim2 +ready +home network +Carrier B/);
    expect(modem).toContain('outbound queue: 0 queued, 0 sending, 0 failed');
    expect(await r.enter('time')).toMatch(/trusted\s+yes[\s\S]*modem\s+-?\d+\.\d s[\s\S]*hot\s+-?\d+\.\d s/);
    const selftest = await r.enter('selftest');
    expect(selftest).toContain('PASS  link ping');
    expect(selftest).toContain('PASS  modem sim1 AT');
    expect(selftest).toContain('PASS  modem sim2 AT');
    expect(selftest).toContain('selftest: 12 passed, 0 failed, 0 skipped');
    expect(r.world.cold.store.get(SYSTEM_COLLECTIONS.meta, 'store')).toBeDefined();
    expect(await r.enter('audit verify')).toMatch(/result\s+ok/);
    expect(await r.enter('audit tail 3')).toContain('console.login');
  });

  it('sms shows traffic with numbers masked and keys shortened; channel and approvals show the records', async () => {
    const r = await loggedIn();
    const { cId, secret, qh } = await openChannel(r);
    const request: HotSendRequest = { coinCode: 'BTC', userTxNo: '701', outs: `${A},25000`, isDynamicFee: 1 };
    await settle(r.clock, r.world.hot.link.rpc.call('cold.approve', { ...request, vcCode: vcCode(request, secret), cId, requestedAt: r.clock.now() }));
    const sms = await r.enter('sms');
    expect(sms).toContain('…0001');
    expect(sms).not.toContain(V_DEVICE);
    expect(sms).not.toContain(qh);
    expect(sms).toContain(`CC:QH:${qh.slice(0, 6)}…${qh.slice(-6)}:H_ID:1:`);
    expect(sms).toMatch(/out +…0001 +sent via sim\d/);
    const channel = await r.enter('channel');
    expect(channel).toMatch(new RegExp(`open channel +${cId} \\(open, H_ID 1, QH ${qh.slice(0, 6)}…`));
    expect(channel).toMatch(/refused requests +none\n/);
    expect(await r.enter('channel list')).toMatch(new RegExp(`${cId} +open +1 `));
    const approvals = await r.enter('approvals');
    expect(approvals).toMatch(new RegExp(`701 +spend +BTC +25000 +${cId}`));
    expect(approvals).not.toContain(vcCode(request, secret));
    const policy = await r.enter('policy');
    expect(policy).toMatch(/BTC +100000000 +300000000 +25000 +1\/5 +24 h +any/);
    expect(await r.enter('policy test BTC 100000001')).toContain('would be refused: 100000001 exceeds the BTC limit of 100000000 per request [POLICY_MAX_PER_TX]');
    expect(await r.enter(`policy test BTC 1000 ${A}`)).toContain('would be approved');
    expect(await r.enter('policy test BTC 1000 1BadAddressBadAddressBad')).toContain('[ADDRESS_');
  });

  it('redacts keys and signatures in any SMS text and escapes control characters', () => {
    const sig = 'H9L5yLFjti0QTHhPyFrZCT1V/MMnBtXKmoiKDZ78NDBjERki6ZTQZdSMCtkgoNmp17By9ItJr8o7ChX0XxY91nk=';
    expect(redactSmsText(`CC:COLD_ADDRESSES:1:${sig}:42:BTC`)).toBe('CC:COLD_ADDRESSES:1:H9L5yL…Y91nk=:42:BTC');
    expect(redactSmsText('hi\x1b[2J\r\nthere')).toBe('hi\\x1b[2J\\x0d\\nthere');
  });

  it('batch verify derives the batch in slices and reports the content hash the V-Device checks', async () => {
    const r = await loggedIn();
    const out = await r.enter('batch verify cold 2');
    expect(out.match(/derived \d+\/1000/g)).toEqual(['derived 250/1000', 'derived 500/1000', 'derived 750/1000', 'derived 1000/1000']);
    const spec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
    const node = importAccountXpub(exportAccountXpub(mnemonicToSeed(MNEMONIC), spec), spec);
    const addresses = deriveAddresses(node, spec, CHAIN.external, 2000, 1000);
    expect(out).toContain(`first            0,${addresses[0]}`);
    expect(out).toContain(`last             999,${addresses[999]}`);
    expect(out).toContain(`content SHA-256  ${bytesToHex(sha256(new TextEncoder().encode(batchContentString(addresses))))}`);
    expect(await r.enter('batch verify hot 2')).toContain('no hot BTC account is known (HSM-Hot has not pinned its xpubs yet) [BATCH_NO_ACCOUNT]');
    expect(await r.enter('batch verify warm 2')).toContain('type must be one of hot, cold');
    expect(await r.enter('batch verify cold 2 LTC')).toContain('coin must be one this device serves (BTC)');
    expect(await r.enter('batch verify cold 2147483')).toContain('batch must be an integer in 0..2147482');
  });
});

describe('HSM-Cold console: privileged commands', () => {
  it('channel open-window 15 with a TOTP code opens the window; a wrong code refuses it and changes nothing', async () => {
    const r = await loggedIn();
    const before = storeSnapshot(r.world.cold.store, DEVICE_STATE);
    const wrongCode = String((Number(await r.freshCode()) + 1) % 1_000_000).padStart(6, '0');
    await r.enter('channel open-window 15');
    expect(await r.enter(wrongCode)).toContain('wrong code; 4 more failures lock the console [CONSOLE_2FA_INVALID]');
    expect(storeSnapshot(r.world.cold.store, DEVICE_STATE)).toEqual(before);
    expect(r.world.cold.store.get(COLD_RECORDS.channelState, 'current')?.operatorWindowUntil).toBeUndefined();
    await r.clock.advance(1000);
    const done = await r.privileged('channel open-window 15');
    const until15 = r.world.cold.store.get(COLD_RECORDS.channelState, 'current')?.operatorWindowUntil;
    expect(until15).toBeGreaterThan(r.clock.now() + 14 * 60_000);
    expect(done).toContain(`rotation window open until ${new Date(until15!).toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
    const kinds = auditTail(r.world.cold.store, 6).map((e) => [e.kind, e.details.command ?? e.details.action ?? '']);
    expect(kinds).toEqual(expect.arrayContaining([['console.2fa-failed', 'channel open-window'], ['channel.window-opened', ''], ['console.privileged', 'channel open-window']]));
    expect(await r.privileged('channel close')).toContain('operator window closed');
    expect(await r.privileged('channel close')).toContain('no operator window is open [CONSOLE_NOTHING_TO_DO]');
    expect(await r.enter('channel open-window 721')).toContain('minutes must be an integer in 1..720');
  });

  it('policy set changes one limit at once, checked against the whole configuration', async () => {
    const r = await loggedIn();
    expect(await r.privileged('policy set BTC max-per-tx 5000')).toContain('BTC max-per-tx: 100000000 → 5000');
    expect(await r.enter('policy test BTC 6000')).toContain('[POLICY_MAX_PER_TX]');
    expect(await r.privileged('policy set BTC max-per-tx 900000000')).toContain('maxPerTx exceeds maxPerPeriod [COLD_CONFIG]');
    expect(await r.privileged('policy set LTC max-count 3')).toContain('LTC is not served by this device [COIN_NOT_SERVED]');
    expect(r.world.cold.store.get(COLD_RECORDS.config, 'current')?.coins.BTC?.policy.maxPerTx).toBe('5000');
    expect(auditTail(r.world.cold.store, 20).some((e) => e.kind === 'cold.policy-changed' && e.details.maxPerTx === '5000')).toBe(true);
  });

  it('lock, unlock with the PIN (a wrong one is counted), reboot', async () => {
    const r = await loggedIn();
    expect(await r.privileged('lock')).toContain('locked');
    expect(r.session.prompt()).toBe('hsm-cold(locked)$ ');
    await r.privileged('unlock');
    expect(await r.enter('9999')).toContain('wrong PIN; 9 attempts left before the secrets are erased [PIN_WRONG]');
    await r.privileged('unlock');
    expect(await r.enter('2468')).toContain('unlocked; HSM-Cold is running');
    await until(r.clock, () => r.world.cold.snapshot.matches({ running: { link: 'up' } }));
    expect(r.session.prompt()).toBe('hsm-cold(running/link:up)$ ');
    expect(r.port.output().toString()).not.toMatch(/2468|9999/);
    expect(await r.privileged('reboot')).toContain('rebooted; HSM-Cold is locked');
    expect(r.world.cold.vault.state).toBe('locked');
    expect(await r.privileged('lock')).toContain('lock needs HSM-Cold to be running; it is locked [CONSOLE_WRONG_STATE]');
  });

  it('zeroize is two-step with fresh codes; then guided provisioning shows a new mnemonic once; then pairing by code', async () => {
    const r = await loggedIn();
    const w = r.world;
    const first = await r.privileged('zeroize');
    expect(first).toContain('zeroize erases the cold seed');
    const id = /confirm ([0-9a-f]{8})/.exec(first)![1]!;
    expect(w.cold.vault.state).toBe('unlocked');
    expect(await r.privileged(`confirm ${id}`)).toContain('zeroized; HSM-Cold waits to be provisioned again');
    expect(w.cold.vault.state).toBe('erased');
    expect(w.cold.store.count(SYSTEM_COLLECTIONS.secrets)).toBe(0);
    expect(pairingRecord(w.cold.store)).toBeUndefined();
    expect(r.session.prompt()).toBe('hsm-cold(provisioning)$ ');

    await r.privileged('provision');
    const answers = ['new', '12', '8642', '8642', ...Array.from({ length: 13 }, () => ''), 'yes'];
    let screen = '';
    for (const answer of answers) screen += await r.enter(answer);
    expect(screen).toContain('write these words down now, in order: they are shown this once and never stored');
    const shown = screen.slice(screen.indexOf('never stored\n') + 'never stored\n'.length, screen.indexOf('press Enter'));
    const words = [...shown.matchAll(/(\d{1,2}) ([a-z]+)/g)].map((m) => m[2]!);
    expect(words).toHaveLength(12);
    const mnemonic = words.join(' ');
    expect(validateMnemonic(mnemonic)).toBe(mnemonic);
    screen += await r.enter('');
    expect(screen).toMatch(/identity\s+0[23][0-9a-f]{64}/);
    expect(screen).toContain('provisioned; HSM-Cold is starting its services');
    await until(w.clock, () => w.cold.snapshot.matches('running'));
    const firstRow = shown.split('\n')[0]!;
    expect(firstRow).toContain(`1 ${words[0]}`);
    expect(r.port.output().toString().replace(/\r\n/g, '\n').split(firstRow).length - 1).toBe(1);
    expect(JSON.stringify(auditTail(w.cold.store, 500))).not.toContain(words.slice(0, 3).join(' '));
    expect(r.port.output().toString()).not.toContain('8642');

    // HSM-Hot's side of the pairing runs on the other end of the wire, as its console would.
    w.hot.link.stop();
    w.wire.unplug('a');
    w.wire.replug('a');
    const hotPort = w.wire.open('a');
    const hotSide = runPairingExchange({ port: hotPort, clock: w.clock, random: w.random.fork('hot-pair'), role: 'hot', store: w.hot.store, vault: w.hot.vault, signDigest: identitySigner(w.hot.store, w.hot.vault).signDigest });
    const asked = await r.privileged('pair');
    const coldCode = /pairing code +(\d{3} \d{3})/.exec(asked)?.[1];
    const hot = await settle(w.clock, hotSide);
    expect(coldCode).toBe(`${hot.code.slice(0, 3)} ${hot.code.slice(3)}`);
    expect(asked).toContain(`HSM-Hot identity  ${w.hot.identity}`);
    expect(asked).toMatch(/does HSM-Hot's console show the same code\? \(yes\/no\) $/);
    hot.confirm();
    await hotPort.close();
    expect(await r.enter('yes')).toContain('paired with HSM-Hot; the link is starting');
    expect(pairingRecord(w.cold.store)).toMatchObject({ peerIdentity: w.hot.identity, method: 'code', role: 'cold' });
    const hotLink = new LinkEndpoint({ store: w.hot.store, vault: w.hot.vault, port: w.wire.open('a'), clock: w.clock, random: w.random.fork('hot-link'), baudRate: 115_200, messages: DEVICE_MESSAGES });
    hotLink.rpc.handle('hot.event', () => ({}));
    hotLink.rpc.handle('link.time', () => ({ now: w.clock.now() }));
    hotLink.start();
    await until(w.clock, () => w.cold.snapshot.matches({ running: { link: 'up' } }));
    expect(r.session.prompt()).toBe('hsm-cold(running/link:up)$ ');
    hotLink.stop();
  });

  it('setup on a provisioned device asks its PIN first', async () => {
    rig = await ColdConsoleRig.create();
    const { host } = coldConsole(rig.world.cold, { random: rig.random });
    const answers = ['0000'];
    const ctx = { ask: async () => answers.shift() ?? '', out: rig.server.session.terminal, clock: rig.clock, signal: new AbortController().signal, operator: undefined, confirm: async () => false };
    await expect(host.authorizeSetup!(ctx)).rejects.toMatchObject({ code: 'PIN_WRONG' });
    answers.push('2468');
    await expect(host.authorizeSetup!(ctx)).resolves.toBeUndefined();
  });
});
