/**
 * HSM-Hot's console: the command set it registers, the read-only views on HSM-Hot running
 * against the HSM-Cold stand-in, the privileged commands behind a TOTP code, and that no
 * secret (mnemonic, seed, PIN, link key, platform private key, vc_code) reaches the screen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeysCollection } from '../../hsm-hot/api-keys.ts';
import { HOT_SEED_SECRET, hotAccountsCollection } from '../../hsm-hot/accounts.ts';
import { coldEventCollection, coldStatusCollection } from '../../hsm-hot/cold-link.ts';
import { hotConsole } from '../../hsm-hot/console-commands.ts';
import { HOT_COLLECTIONS } from '../../hsm-hot/main.ts';
import { requestsCollection } from '../../hsm-hot/requests.ts';
import { CommandRegistry } from '../../shared/console/registry.ts';
import { CONSOLE_COLLECTIONS } from '../../shared/console/collections.ts';
import { CONSOLE_OPERATOR } from '../../shared/console/operator.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { LINK_KEY_SECRET, createPairingFile, pairingCollection, pairingRecord } from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { auditTail } from '../../shared/store/audit.ts';
import { identityPublicKey } from '../../shared/store/identity.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { Vault } from '../../shared/store/vault.ts';
import { CHANNEL_ID, HOT_MNEMONIC, PIN, PLATFORM, READER, STRANGER, testKey, vcCode } from '../hot/wallet-fixture.ts';
import { HotConsoleRig, PASSWORD } from './hot-rig.ts';
import { storeSnapshot } from './store-snapshot.ts';
import { witnessStatus } from '../../shared/link/audit-witness.ts';

let rig: HotConsoleRig | undefined;
afterEach(async () => {
  await rig?.shutdown();
  rig = undefined;
});

async function loggedIn(options: Parameters<typeof HotConsoleRig.create>[0] = {}): Promise<HotConsoleRig> {
  rig = await HotConsoleRig.create(options);
  await rig.login();
  rig.fresh();
  return rig;
}

/** Every secret HSM-Hot holds or was given, in the forms they could be printed in. */
function secrets(r: HotConsoleRig): string[] {
  const vault = new Vault(r.rig.hot.store, new SeededRandom('secrets'));
  vault.unlock(PIN);
  const linkKey = bytesToHex(vault.getSecret(LINK_KEY_SECRET));
  const seed = bytesToHex(vault.getSecret(HOT_SEED_SECRET));
  vault.lock();
  return [PIN, PASSWORD, HOT_MNEMONIC, ...HOT_MNEMONIC.split(' ').slice(0, 4).map((_, i, words) => words.slice(i).join(' ')), linkKey, linkKey.slice(0, 16), seed, seed.slice(0, 16), bytesToHex(PLATFORM.privateKey), bytesToHex(READER.privateKey)];
}

function expectNoSecrets(screen: string, list: readonly string[]): void {
  for (const secret of list) expect(screen, `the screen shows a secret (${secret.slice(0, 4)}…)`).not.toContain(secret);
}

/** A PING tx_request through the host API, settled by the stand-in. */
async function ping(r: HotConsoleRig, userTxNo: string): Promise<string> {
  const client = await r.rig.client();
  const code = vcCode({ coinCode: 'BTC', userTxNo, outs: 'PING', isDynamicFee: 1 });
  await client.op('tx_request', { coin_code: 'BTC', user_tx_no: userTxNo, outs: 'PING', vc_code: code, is_dynamic_fee: 1, c_id: CHANNEL_ID });
  await r.rig.until(() => r.rig.hot.store.get(requestsCollection, userTxNo)?.status === 1);
  return code;
}

describe('HSM-Hot console: the command set', () => {
  it('registers Cold-like names with the right access levels, and nothing HsmHot cannot do', async () => {
    rig = await HotConsoleRig.create();
    const { commands } = hotConsole(rig.rig.hot, { random: rig.random });
    const registry = new CommandRegistry();
    registry.registerAll(commands);
    const access = Object.fromEntries(registry.list().map((c) => [c.path, c.access]));
    expect(access).toEqual({
      'api-keys': 'read',
      'api-keys add': 'privileged',
      'api-keys list': 'read',
      approvals: 'read',
      'audit checkpoint': 'read',
      'audit tail': 'read',
      'audit verify': 'read',
      channel: 'read',
      link: 'read',
      lock: 'privileged',
      pair: 'privileged',
      provision: 'privileged',
      reboot: 'privileged',
      requests: 'read',
      selftest: 'read',
      status: 'read',
      time: 'read',
      unlock: 'privileged',
      zeroize: 'destructive',
    });
    // The store holds the console's records, as serveConsole requires.
    for (const c of CONSOLE_COLLECTIONS) expect(HOT_COLLECTIONS).toContain(c);
    expect(registry.resolve(['requests', '5']).args.optionalInt('count')).toBe(5);
    expect(() => registry.resolve(['requests', '51'])).toThrow(/count must be an integer in 1\.\.50/);
    expect(() => registry.resolve(['api-keys', 'add', 'nothex', 'tx:read'])).toThrow(/compressed secp256k1 public key/);
  });

  it('help before login lists only public commands; after login the device commands with their 2FA marks', async () => {
    rig = await HotConsoleRig.create();
    const before = await rig.enter('help');
    expect(before).not.toContain('status');
    expect(await rig.enter('status')).toContain('status needs a login: type login [CONSOLE_LOGIN_REQUIRED]');
    await rig.login();
    const help = await rig.enter('help');
    expect(help).toMatch(/status +machine state, uptime, boot epoch, versions\n/);
    expect(help).toMatch(/unlock +unlock the vault .*\[2FA\]/);
    expect(help).toMatch(/api-keys add <key> <scopes> \[label\] +register another platform key .*\[2FA\]/);
    expect(help).toMatch(/provision +guided provisioning: .*\[2FA\]/);
    expect(help).toMatch(/reboot +restart the device's link and host API from boot .*\[2FA\]/);
    expect(help).toMatch(/zeroize +erase every secret .*\[2FA, two-step\]/);
  });
});

describe('HSM-Hot console: read-only commands on the running device', () => {
  it('status, link, time, selftest and audit report the running device', async () => {
    const r = await loggedIn();
    const status = await r.enter('status');
    expect(status).toMatch(/\ndevice +hsm-hot\n/);
    expect(status).toMatch(/state +running \{link:active\.up, host:listening\}\n/);
    expect(status).toMatch(/boot epoch +1\n/);
    expect(status).toMatch(/vault +unlocked\n/);
    expect(status).toMatch(new RegExp(`identity +${r.rig.hot.identity}\n`));
    expect(status).toMatch(/link +up\n/);
    expect(status).toMatch(new RegExp(`host API +${r.rig.url}\n`));
    expect(status).toMatch(/requests +0 pending, 0 in all\n/);
    expect(status).toMatch(/firmware +0\.1\.0\n/);
    expect(status).toMatch(/store +format \d+, schema 1\n/);
    expect(status).toMatch(/hsm-hot\(running\/link:up\)\$ $/);

    const link = await r.enter('link');
    expect(link).toMatch(/state +up\n/);
    expect(link).toMatch(/peer identity +0[23][0-9a-f]{64}\n/);
    expect(link).toMatch(/paired +\d{4}-\d\d-\d\dT[\d:]+Z \(file\)\n/);
    expect(link).toMatch(/handshakes +[1-9]/);
    expect(link).toMatch(/requests sent \/ replies +\d+ \/ \d+\n/);
    expect(link).toMatch(/CRC failures +0\n/);

    expect(await r.enter('time')).toMatch(/local clock +\d{4}-[\s\S]*HSM-Cold clock +not reported yet/);
    const selftest = await r.enter('selftest');
    expect(selftest).toContain('PASS  store round trip');
    expect(selftest).toMatch(/PASS {2}link ping +link\.echo answered in \d+ ms\n/);
    expect(selftest).toMatch(/selftest: \d+ passed, 0 failed, 0 skipped/);
    expect(await r.enter('audit verify')).toMatch(/result +ok/);
    expect(await r.enter('audit tail 3')).toContain('console.login');
    const checkpoint = await r.enter('audit checkpoint');
    expect(checkpoint).toMatch(/head \d+ signed\n[\s\S]*sent to the peer +(yes|after the head in flight is answered)\n/);
    const signed = Number(/head (\d+) signed/.exec(checkpoint)?.[1]);
    await r.rig.until(() => witnessStatus(r.rig.hot.store).witnessedSeq >= signed);
  });

  it('requests and approvals list tx requests and their state, never the vc_code', async () => {
    const r = await loggedIn();
    expect(await r.enter('requests')).toContain('no tx requests yet');
    const code = await ping(r, 'console-ping-1');
    const requests = await r.enter('requests');
    expect(requests).toMatch(/no +requested +user_tx_no +coin +kind +amount +outs +cId +state +settled/);
    expect(requests).toMatch(new RegExp(`1 +\\d{4}-[\\d-]+T[\\d:]+Z +console-ping-1 +BTC +ping +- +0 +${CHANNEL_ID} +signed +\\d{4}-`));
    expect(requests).not.toContain(code);
    expect(requests).not.toContain(code.slice(0, 12));
    expect(await r.enter('approvals 1')).toContain('console-ping-1');
    expect(await r.enter('status')).toMatch(/requests +0 pending, 1 in all/);
  });

  it('channel shows what HSM-Cold last reported, and says when it has not', async () => {
    const r = await loggedIn();
    expect(await r.enter('channel')).toMatch(/reported at +never\n[\s\S]*last event +none/);
    const client = await r.rig.client();
    await client.op('channel_status', {});
    await r.rig.until(() => r.rig.hot.store.get(coldStatusCollection, 'latest') !== undefined);
    r.rig.cold.notify('channel.opened', { cId: CHANNEL_ID, qh: 'AB'.repeat(33) });
    await r.rig.until(() => r.rig.hot.store.get(coldEventCollection, 'latest') !== undefined);
    const channel = await r.enter('channel');
    expect(channel).toMatch(new RegExp(`open channel +${CHANNEL_ID} \\(open, created `));
    expect(channel).toMatch(/last event +channel\.opened at [\d-]+T[\d:]+Z: cId=7 qh=ABABAB…ABABAB/);
  });

  it('api-keys lists the registered platform keys with their scopes', async () => {
    const r = await loggedIn();
    const keys = await r.enter('api-keys');
    expect(keys).toMatch(new RegExp(`${PLATFORM.publicKey} +platform +address:read,tx:create,tx:read,events:read +\\d{4}-`));
    expect(keys).toMatch(new RegExp(`${READER.publicKey} +reader +address:read +\\d{4}-`));
  });
});

describe('HSM-Hot console: privileged commands', () => {
  it('api-keys add registers a key with a TOTP code; a wrong code or a bad scope changes nothing', async () => {
    const r = await loggedIn();
    const before = storeSnapshot(r.rig.hot.store, [apiKeysCollection]);
    const code = await r.freshCode();
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(await r.privileged(`api-keys add ${STRANGER.publicKey} tx:read`, wrong)).toContain('wrong code; 4 more failures lock the console [CONSOLE_2FA_INVALID]');
    expect(await r.privileged(`api-keys add ${STRANGER.publicKey} tx:read,root`)).toContain('"root" is not one');
    expect(storeSnapshot(r.rig.hot.store, [apiKeysCollection])).toEqual(before);

    const added = await r.privileged(`api-keys add ${STRANGER.publicKey} tx:read,address:read ops-reader`);
    expect(added).toContain(`registered ${STRANGER.publicKey.slice(0, 10)}… with tx:read, address:read`);
    expect(r.rig.hot.store.get(apiKeysCollection, STRANGER.publicKey)).toMatchObject({ scopes: ['tx:read', 'address:read'], label: 'ops-reader' });
    expect(await r.privileged(`api-keys add ${STRANGER.publicKey} tx:read`)).toContain('[PLATFORM_KEY_EXISTS]');
    // The new key can authenticate with the host API at once.
    const client = await r.rig.client(STRANGER);
    expect((await client.op('history', { since: 0 })).msg).not.toBe('err');
    const kinds = auditTail(r.rig.hot.store, 10).map((e) => `${e.kind}:${String(e.details.command ?? e.details.key ?? '')}`);
    expect(kinds).toContain(`api.key-registered:${STRANGER.publicKey}`);
    expect(kinds).toContain('console.privileged:api-keys add');
  });

  it('lock and unlock with the PIN, which is never echoed; a wrong PIN is refused and counted', async () => {
    const r = await loggedIn();
    expect(await r.privileged('lock')).toContain('locked; HSM-Hot is locked');
    expect(r.rig.hot.state).toBe('locked');
    expect(await r.enter('status')).toMatch(/vault +locked \(\d+ PIN attempts left\)\n[\s\S]*link +not running/);
    expect(await r.enter('link')).toContain('the link runs while HSM-Hot is running');
    expect(await r.enter('selftest')).toContain('SKIP  link ping');

    const asked = await r.privileged('unlock');
    expect(asked).toMatch(/device PIN: $/);
    const wrong = await r.enter('999999');
    expect(wrong).toContain('[PIN_WRONG]');
    expect(r.rig.hot.state).toBe('locked');
    expect(r.rig.hot.vaultState?.attemptsLeft).toBe(9);

    await r.privileged('unlock');
    const unlocked = await r.enter(PIN);
    expect(unlocked).toContain('unlocked; HSM-Hot is running');
    await r.rig.until(() => r.rig.hot.linkUp);
    expect(await r.enter('status')).toMatch(/hsm-hot\(running\/link:up\)\$ $/);
    expect(r.screen()).not.toContain(PIN);
    expect(r.screen()).not.toContain('999999');
  });

  it('reboot comes back locked; unlock runs it again with the same identity on the same host API URL', async () => {
    const r = await loggedIn();
    const url = r.rig.url;
    const identity = r.rig.hot.identity;
    const rebooted = await r.privileged('reboot');
    expect(rebooted).toContain('rebooting...');
    expect(rebooted).toContain('rebooted; HSM-Hot is locked');
    expect(r.rig.hot.state).toBe('locked');
    expect(await r.enter('status')).toMatch(/vault +locked \(10 PIN attempts left\)[\s\S]*host API +not listening[\s\S]*hsm-hot\(locked\)\$ $/);
    expect(await r.privileged('lock')).toContain('lock needs HSM-Hot to be running; it is locked [CONSOLE_WRONG_STATE]');

    await r.privileged('unlock');
    expect(await r.enter(PIN)).toContain('unlocked; HSM-Hot is running');
    expect(r.rig.hot.identity).toBe(identity);
    expect(r.rig.url).toBe(url);
    await r.rig.until(() => r.rig.hot.linkUp);
    await ping(r, 'after-reboot');
    const kinds = auditTail(r.rig.hot.store, 30).map((e) => `${e.kind}:${String(e.details.command ?? '')}:${String(e.details.outcome ?? '')}`);
    expect(kinds).toContain('console.privileged:reboot:done');
    expect(r.screen()).not.toContain(PIN);
  });

  it('zeroize asks for a confirmation; a wrong or reused code changes nothing; confirmed, it erases every secret and the provisioning', async () => {
    const r = await loggedIn();
    const shown = secrets(r);
    const store = r.rig.hot.store;
    const kept = [SYSTEM_COLLECTIONS.secrets, SYSTEM_COLLECTIONS.identity, SYSTEM_COLLECTIONS.vault, apiKeysCollection, hotAccountsCollection, pairingCollection];
    const before = storeSnapshot(store, kept);

    const code = await r.freshCode();
    const first = await r.privileged('zeroize', code);
    expect(first).toContain('zeroize erases the hot seed, the identity key and the link key,');
    expect(first).toContain('Only the mnemonic written down at provisioning can restore the hot keys.');
    const id = /confirm ([0-9a-f]{8})/.exec(first)![1]!;
    expect(r.rig.hot.state).toBe('running');
    expect(storeSnapshot(store, kept)).toEqual(before);

    expect(await r.privileged(`confirm ${id}`, code)).toContain('that code was already used; wait for the next one');
    const wrong = String((Number(await r.freshCode()) + 1) % 1_000_000).padStart(6, '0');
    expect(await r.privileged(`confirm ${id}`, wrong)).toContain('wrong code');
    expect(r.rig.hot.state).toBe('running');
    expect(storeSnapshot(store, kept)).toEqual(before);
    expect(auditTail(store, 50).some((e) => e.kind === 'hot.zeroized')).toBe(false);

    expect(await r.privileged(`confirm ${id}`)).toContain('zeroized; HSM-Hot waits to be provisioned again');
    expect(r.rig.hot.state).toBe('uninitialised');
    expect(r.session.prompt()).toBe('hsm-hot(uninitialised)$ ');
    expect(store.count(SYSTEM_COLLECTIONS.secrets)).toBe(0);
    expect(r.rig.hot.vaultState?.state).toBe('erased');
    expect(r.rig.hot.identity).toBeUndefined();
    expect(pairingRecord(store)).toBeUndefined();
    expect(store.count(apiKeysCollection)).toBe(0);
    expect(store.count(hotAccountsCollection)).toBe(0);
    const vault = new Vault(store, new SeededRandom('after zeroize'));
    expect(() => vault.unlock(PIN)).toThrow(/erased/);
    expect(() => vault.getSecret(HOT_SEED_SECRET)).toThrow();
    const audit = auditTail(store, 50);
    expect(audit.find((e) => e.kind === 'hot.zeroized')?.details).toMatchObject({ reason: 'zeroized from the console' });
    expect(audit.map((e) => `${e.kind}:${String(e.details.command ?? '')}:${String(e.details.outcome ?? '')}`)).toContain('console.privileged:zeroize:done');
    expect(await r.enter('status')).toMatch(/state +uninitialised\n[\s\S]*vault +erased\n[\s\S]*link +not paired/);
    expect(await r.privileged('unlock')).toContain('unlock needs HSM-Hot to be locked; it is uninitialised [CONSOLE_WRONG_STATE]');
    expect(await r.privileged('provision')).toMatch(/new mnemonic or restore one\? \(new, restore\) \[new\]: $/);
    await r.enter('\x03');

    // Provisioned again (paired by file with the stand-in's identity), it runs.
    const coldIdentity = identityPublicKey(r.rig.cold.store)!;
    const again = await r.rig.hot.provision({
      pin: PIN,
      mnemonic: { restore: HOT_MNEMONIC },
      platformKeys: [{ key: PLATFORM.publicKey, scopes: ['tx:read'] }],
      pairing: { method: 'file', file: (hot) => createPairingFile(hot, coldIdentity, r.rig.random.fork('pairing again')) },
    });
    expect(again.paired).toBe(true);
    expect(await r.enter('status')).toMatch(/hsm-hot\(running\/link:(up|down)\)\$ $/);
    expectNoSecrets(r.screen(), shown);
  });

  it('pair shows the pairing of a paired device', async () => {
    const r = await loggedIn();
    const paired = await r.privileged('pair');
    expect(paired).toMatch(/paired with +0[23][0-9a-f]{64}\nsince +\d{4}-[\d-]+T[\d:]+Z\nmethod +file\n/);
  });

  it('setup on a provisioned device asks the device PIN first; a wrong one sets no password', async () => {
    rig = await HotConsoleRig.create();
    const r = rig;
    // A device whose operator record is gone, as on a first install of the console.
    r.rig.hot.store.transact((tx) => tx.del(CONSOLE_OPERATOR, 'operator'));
    expect(await r.enter('setup')).toMatch(/device PIN \(the device is provisioned\): $/);
    expect(await r.enter('123456')).toContain('[PIN_WRONG]');
    expect(r.server.credentials.exists()).toBe(false);
    await r.enter('setup');
    expect(await r.enter(PIN)).toMatch(/new operator password: $/);
    await r.enter('another good password');
    expect(await r.enter('another good password')).toContain('operator password set; log in with: login');
    expect(r.server.credentials.exists()).toBe(true);
    expect(r.screen()).not.toContain(PIN);
    expect(r.screen()).not.toContain('another good password');
  });

  it('no secret reaches the screen across a whole session', async () => {
    const r = await loggedIn();
    await ping(r, 'console-ping-2');
    for (const line of ['help', 'status', 'link', 'channel', 'requests', 'approvals', 'api-keys', 'time', 'selftest', 'audit tail 50', 'audit verify', 'whoami', '2fa']) await r.enter(line);
    await r.privileged('pair');
    await r.privileged('lock');
    await r.privileged('unlock');
    await r.enter(PIN);
    await r.rig.until(() => r.rig.hot.linkUp);
    await r.enter('status');
    const screen = r.screen();
    expect(screen).toContain('console-ping-2');
    expectNoSecrets(screen, secrets(r));
    expectNoSecrets(screen, [vcCode({ coinCode: 'BTC', userTxNo: 'console-ping-2', outs: 'PING', isDynamicFee: 1 }), bytesToHex(testKey('v-device channel 7').privateKey)]);
  });
});
