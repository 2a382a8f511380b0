import { afterEach, describe, expect, it } from 'vitest';
import { API_ERROR } from '../../hsm-hot/api-wire.ts';
import { apiKeysCollection, nonceCollection } from '../../hsm-hot/api-keys.ts';
import { journalCollection } from '../../hsm-hot/journal.ts';
import { requestsCollection } from '../../hsm-hot/requests.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { oracleAccount, oracleAddresses } from '../oracle/bitcoinjs.ts';
import { PlatformClient, deviceSignatureValid, nextNonce, type ServerMessage } from './client.ts';
import { HotRig, type RigOptions } from './rig.ts';
import { countCommits } from '../helpers/commits.ts';
import {
  CHANNEL_ID,
  PAYEES,
  PLATFORM,
  READER,
  STRANGER,
  TEST_CONFIG,
  WalletFixture,
  base64,
  buildPsbt,
  outsOf,
  vcCode,
} from './wallet-fixture.ts';

let rig: HotRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function startRig(options: RigOptions = {}): Promise<HotRig> {
  rig = await HotRig.create({ coldRunning: false, ...options });
  return rig;
}

const wallet = new WalletFixture();

/** A valid tx_request (params) paying `amount` to PAYEES.a from one P2WPKH coin. */
function txRequest(userTxNo: string, amount = 150_000n, salt = 0): Record<string, unknown> {
  const coins = wallet.fund([{ type: 'p2wpkh', chain: 0, index: 2, amount: 200_000n }], salt);
  const payments = [{ address: PAYEES.a, amount }];
  const psbt = buildPsbt(wallet, { coins, payments, change: [{ type: 'p2wpkh', index: 0, amount: 200_000n - amount - 3_000n }] });
  const outs = outsOf(payments);
  return {
    coin_code: 'BTC',
    user_tx_no: userTxNo,
    outs,
    vc_code: vcCode({ coinCode: 'BTC', userTxNo, outs, isDynamicFee: 1 }),
    is_dynamic_fee: 1,
    c_id: CHANNEL_ID,
    psbt: base64(psbt),
  };
}

/** Sends `texts` in one write on the socket (the device reads them in one turn); returns a reader of the acks and errs since, in order. */
function inOneWrite(client: PlatformClient, texts: string[]): () => Array<[string, unknown]> {
  const from = client.received.length;
  const socket = (client.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  socket.cork();
  for (const t of texts) client.sendRaw(t);
  socket.uncork();
  return () => client.received.slice(from).filter((m) => m.msg === 'ack' || m.msg === 'err').map((m) => [m.msg, m.data.nonce]);
}

function expectErr(reply: ServerMessage, code: string, field?: string): void {
  expect(reply.msg, JSON.stringify(reply.data)).toBe('err');
  expect(reply.data.code).toBe(code);
  expect(typeof reply.data.message).toBe('string');
  if (field !== undefined) expect(reply.data.field).toBe(field);
}

/** Everything a refused message must leave untouched. */
function stateOf(r: HotRig): string {
  const store = r.hot.store;
  return JSON.stringify({
    nonces: [...store.range(nonceCollection)].map((e) => [e.key, e.value.last]),
    journal: store.count(journalCollection),
    requests: store.count(requestsCollection),
    keys: store.count(apiKeysCollection),
  });
}

describe('host API: authentication', () => {
  it('sends a fresh 32-byte challenge on every connection and accepts a registered key that signs it', async () => {
    const r = await startRig();
    const a = await PlatformClient.connect(r.url);
    const b = await PlatformClient.connect(r.url);
    expect(a.challenge).toMatch(/^[0-9a-f]{64}$/);
    expect(b.challenge).not.toBe(a.challenge);
    const reply = await a.auth();
    expect(reply).toMatchObject({ msg: 'ack', data: { op: 'auth' } });
    await a.close();
    await b.close();
  });

  it('refuses an unknown key, a signature by another key, and a signature over another challenge', async () => {
    const r = await startRig();
    const client = await PlatformClient.connect(r.url, STRANGER);
    expectErr(await client.auth(), API_ERROR.KEY_UNKNOWN, 'data.key');
    const impostor = await PlatformClient.connect(r.url, { publicKey: PLATFORM.publicKey, privateKey: STRANGER.privateKey });
    expectErr(await impostor.auth(), API_ERROR.SIGNATURE_INVALID, 'data.signed');
    const other = await PlatformClient.connect(r.url);
    expectErr(await other.auth({ challenge: impostor.challenge }), API_ERROR.SIGNATURE_INVALID, 'data.signed');
    expectErr(await other.op('device_status', {}), API_ERROR.AUTH_REQUIRED, 'op');
    expect((await other.auth()).msg).toBe('ack');
    expectErr(await other.auth(), API_ERROR.AUTH_ALREADY, 'op');
  });

  it('closes a connection that does not authenticate within the short deadline', async () => {
    const r = await startRig();
    expect(r.hot.config.api.authTimeoutMs).toBe(5_000);
    const client = await PlatformClient.connect(r.url);
    await r.clock.advance(4_000);
    expect(client.closed).toBe(false);
    await r.clock.advance(2_000);
    await r.until(() => client.closed, 1000);
    expect(client.closeCode).toBe(1008);
  });

  it('an operation with a bad signature is refused and spends nothing', async () => {
    const r = await startRig();
    const client = await r.client();
    const before = stateOf(r);
    const nonce = nextNonce(PLATFORM.publicKey);
    expectErr(await client.op('device_status', {}, { nonce, signWith: STRANGER.privateKey }), API_ERROR.SIGNATURE_INVALID, 'data.signed');
    expectErr(await client.op('tx_status', { user_tx_no: 'a' }, { nonce, signedParams: { user_tx_no: 'b' } }), API_ERROR.SIGNATURE_INVALID);
    expect(stateOf(r)).toBe(before);
    expect((await client.op('device_status', {}, { nonce })).msg).toBe('ack');
  });

  it('an operation under another registered key than the connection authenticated is refused', async () => {
    const r = await startRig();
    const client = await r.client(PLATFORM);
    expectErr(await client.op('device_status', {}, { key: READER.publicKey, signWith: READER.privateKey }), API_ERROR.KEY_MISMATCH, 'data.key');
  });
});

describe('host API: nonces', () => {
  it('refuses a replayed and a stale nonce, also after a restart of the device', async () => {
    const r = await startRig();
    const client = await r.client();
    const first = nextNonce(PLATFORM.publicKey);
    const second = nextNonce(PLATFORM.publicKey);
    const replayable = client.signedText('device_status', {}, second);
    expect((await client.sendText(client.signedText('device_status', {}, first), first)).msg).toBe('ack');
    expect((await client.sendText(replayable, second)).msg).toBe('ack');
    expectErr(await client.sendText(replayable, second), API_ERROR.NONCE_REPLAYED, 'data.nonce');
    expectErr(await client.sendText(client.signedText('device_status', {}, first), first), API_ERROR.NONCE_STALE, 'data.nonce');

    await r.restartHot();
    expect(r.hot.store.get(nonceCollection, PLATFORM.publicKey)?.last).toBe(second);
    const again = await PlatformClient.connect(r.url);
    expectErr(await again.auth({ nonce: second }), API_ERROR.NONCE_REPLAYED, 'data.nonce');
    expectErr(await again.auth({ nonce: first }), API_ERROR.NONCE_STALE, 'data.nonce');
    expect((await again.auth()).msg).toBe('ack');
    expectErr(await again.sendText(replayable, second), API_ERROR.NONCE_STALE, 'data.nonce');
    expect((await again.op('device_status', {})).msg).toBe('ack');
  });

  it('5 operations in one burst are accepted in one durable commit, each acknowledged after it', async () => {
    const r = await startRig();
    const client = await r.client();
    const commits = countCommits(r.hot.store);
    const nonces = [1, 2, 3, 4, 5].map(() => nextNonce(PLATFORM.publicKey));
    const replies = inOneWrite(client, nonces.map((n) => client.signedText('device_status', {}, n)));
    await Promise.all(nonces.map((n) => client.next((m) => m.msg === 'ack' && m.data.nonce === n)));
    expect(commits()).toBe(1);
    expect(replies()).toEqual(nonces.map((n) => ['ack', n]));
    expect(r.hot.store.get(nonceCollection, PLATFORM.publicKey)?.last).toBe(nonces[4]);
  });

  it('a replayed and a stale nonce inside a burst are refused alone; the others are accepted once', async () => {
    const r = await startRig();
    const client = await r.client();
    const [a, b, c] = [nextNonce(PLATFORM.publicKey), nextNonce(PLATFORM.publicKey), nextNonce(PLATFORM.publicKey)];
    const text = (n: number): string => client.signedText('device_status', {}, n);
    const replies = inOneWrite(client, [text(a), text(c), text(c), text(b)]);
    await client.next((m) => m.msg === 'err' && m.data.nonce === b);
    await client.next((m) => m.msg === 'err' && m.data.nonce === c);
    expect(replies()).toEqual([
      ['ack', a],
      ['ack', c],
      ['err', c],
      ['err', b],
    ]);
    expect(client.messages('err').map((m) => m.data.code)).toEqual([API_ERROR.NONCE_REPLAYED, API_ERROR.NONCE_STALE]);
    expect(r.hot.store.get(nonceCollection, PLATFORM.publicKey)?.last).toBe(c);
  });

  it('an auth message replayed on another connection fails: the challenge differs', async () => {
    const r = await startRig();
    const a = await PlatformClient.connect(r.url);
    const nonce = nextNonce(PLATFORM.publicKey);
    expect((await a.auth({ nonce })).msg).toBe('ack');
    const b = await PlatformClient.connect(r.url);
    const higher = nextNonce(PLATFORM.publicKey);
    expectErr(await b.auth({ nonce: higher, challenge: a.challenge }), API_ERROR.SIGNATURE_INVALID);
    expectErr(await b.auth({ nonce }), API_ERROR.NONCE_REPLAYED);
  });
});

describe('host API: scopes', () => {
  it('refuses operations and topics outside the key’s scopes', async () => {
    const r = await startRig();
    const reader = await r.client(READER);
    expectErr(await reader.op('tx_request', txRequest('s1')), API_ERROR.SCOPE_MISSING, 'data.key');
    expectErr(await reader.op('tx_status', { user_tx_no: 's1' }), API_ERROR.SCOPE_MISSING);
    expectErr(await reader.op('channel_status', {}), API_ERROR.SCOPE_MISSING);
    expectErr(await reader.op('subscribe', { topics: ['events'] }), API_ERROR.SCOPE_MISSING, 'topics');
    expect((await reader.op('address_range', { coin_code: 'BTC', chain: 0, from: 0, count: 2 })).msg).toBe('ack');
    expect((await reader.op('device_status', {})).msg).toBe('ack');
    expect(r.hot.store.count(requestsCollection)).toBe(0);
  });
});

describe('host API: size caps and malformed messages', () => {
  const limits = { maxMessageBytes: 64 * 1024, hardMessageBytes: 128 * 1024 };

  it('answers an oversize message with MESSAGE_TOO_LARGE, and closes on one past the hard cap', async () => {
    const r = await startRig({ config: { ...TEST_CONFIG, api: limits } });
    const client = await r.client();
    const big = JSON.stringify({ op: 'device_status', data: { pad: 'x'.repeat(64 * 1024) } });
    expectErr(await client.sendText(big, null), API_ERROR.MESSAGE_TOO_LARGE);
    expect((await client.op('device_status', {})).msg).toBe('ack');
    client.sendRaw('y'.repeat(128 * 1024 + 1));
    await client.next(() => false, 0, 5_000).catch(() => undefined);
    expect(client.closed).toBe(true);
    expect(client.closeCode).toBe(1009);
  });

  it('names the problem of each malformed message and changes nothing', async () => {
    const r = await startRig();
    const client = await r.client();
    const before = stateOf(r);
    const key = PLATFORM.publicKey;
    const data = (extra: Record<string, unknown>): Record<string, unknown> => ({ apiVersion: 1, key, nonce: 5_000_000, params: {}, signed: 'AAAA', ...extra });
    const cases: Array<[string, string, string?]> = [
      ['not json', API_ERROR.MESSAGE_MALFORMED],
      ['[1,2,3]', API_ERROR.MESSAGE_MALFORMED],
      ['{"op":"device_status"}', API_ERROR.MESSAGE_MALFORMED, 'data'],
      [JSON.stringify({ op: 'device_status', data: data({}), extra: 1 }), API_ERROR.MESSAGE_MALFORMED, 'extra'],
      [JSON.stringify({ op: 'launch', data: data({}) }), API_ERROR.OP_UNKNOWN, 'op'],
      [JSON.stringify({ op: 'device_status', data: data({ apiVersion: 2 }) }), API_ERROR.API_VERSION, 'data.apiVersion'],
      [JSON.stringify({ op: 'device_status', data: data({ key: key.toUpperCase() }) }), API_ERROR.KEY_FORMAT, 'data.key'],
      [JSON.stringify({ op: 'device_status', data: data({ nonce: 1.5 }) }), API_ERROR.NONCE_INVALID, 'data.nonce'],
      [JSON.stringify({ op: 'device_status', data: data({ nonce: '7' }) }), API_ERROR.NONCE_INVALID, 'data.nonce'],
      [JSON.stringify({ op: 'device_status', data: data({ params: [] }) }), API_ERROR.PARAMS_INVALID, 'data.params'],
      [JSON.stringify({ op: 'device_status', data: data({ params: { x: 0.5 } }) }), API_ERROR.PARAMS_INVALID, 'params.x'],
      [JSON.stringify({ op: 'device_status', data: data({ signed: 7 }) }), API_ERROR.SIGNATURE_INVALID, 'data.signed'],
      [JSON.stringify({ op: 'device_status', data: data({ surprise: true }) }), API_ERROR.MESSAGE_MALFORMED, 'data.surprise'],
    ];
    for (const [text, code, field] of cases) {
      const reply = await client.sendText(text, text.includes('5000000') && code !== API_ERROR.NONCE_INVALID ? 5_000_000 : null);
      expectErr(reply, code, field);
    }
    client.sendRaw(Buffer.from('{"op":"auth"}'), true);
    expectErr(await client.next((m) => m.msg === 'err' && m.data.code === API_ERROR.MESSAGE_BINARY), API_ERROR.MESSAGE_BINARY);
    expect(stateOf(r)).toBe(before);
    // Correctly signed, but with params the operation refuses: the nonce is spent, nothing else.
    expectErr(await client.op('address_range', { coin_code: 'BTC', chain: 2, from: 0, count: 1 }), API_ERROR.PARAMS_INVALID, 'chain');
    const nonce = nextNonce(PLATFORM.publicKey);
    expectErr(await client.op('tx_status', { user_tx_no: 'x', more: 1 }, { nonce }), API_ERROR.PARAMS_INVALID);
    const after = JSON.parse(stateOf(r)) as { nonces: Array<[string, number]> };
    expect(after.nonces).toEqual([[PLATFORM.publicKey, nonce]]);
    expect({ ...JSON.parse(before), nonces: [] }).toEqual({ ...after, nonces: [] });
    expect((await client.op('device_status', {})).msg).toBe('ack');
  });
});

describe('host API: rate limits', () => {
  it('limits operations per key, and refills with time', async () => {
    const r = await startRig({ config: { ...TEST_CONFIG, api: { keyBurst: 4, keyPerSecond: 2 } } });
    // Failed anonymous auth attempts under the key do not spend its tokens.
    const anonymous = await PlatformClient.connect(r.url, { publicKey: PLATFORM.publicKey, privateKey: STRANGER.privateKey });
    for (let i = 0; i < 6; i++) expectErr(await anonymous.auth(), API_ERROR.SIGNATURE_INVALID);
    const client = await r.client();
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) replies.push((await client.op('device_status', {})).data.code ?? 'ack');
    expect(replies).toEqual(['ack', 'ack', 'ack', 'ack', API_ERROR.RATE_LIMITED, API_ERROR.RATE_LIMITED]);
    await r.clock.advance(1_000);
    expect((await client.op('device_status', {})).msg).toBe('ack');
    const other = await r.client(READER);
    expect((await other.op('device_status', {})).msg).toBe('ack');
  });

  it('limits messages per connection, malformed ones included', async () => {
    const r = await startRig({ config: { ...TEST_CONFIG, api: { connectionBurst: 3, connectionPerSecond: 1 } } });
    const client = await PlatformClient.connect(r.url);
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) codes.push((await client.sendText('nonsense', null)).data.code);
    expect(codes).toEqual([API_ERROR.MESSAGE_MALFORMED, API_ERROR.MESSAGE_MALFORMED, API_ERROR.MESSAGE_MALFORMED, API_ERROR.RATE_LIMITED]);
  });
});

describe('host API: operations and signed results', () => {
  it('device_status is signed by the device identity key and lists the accounts', async () => {
    const r = await startRig();
    const client = await r.client();
    const ack = await client.op('device_status', {});
    const status = await client.next((m) => m.msg === 'device_status' && m.nonce === ack.data.nonce);
    expect(deviceSignatureValid(status, r.hot.identity!)).toBe(true);
    expect(deviceSignatureValid({ ...status, data: { ...status.data, state: 'locked' } }, r.hot.identity!)).toBe(false);
    expect(status.data.identity).toBe(r.hot.identity);
    expect(status.data.accounts.map((a: { address_type: string; path: string }) => `${a.address_type} ${a.path}`)).toEqual([
      "p2pkh m/44'/1'/0'",
      "p2wpkh m/84'/1'/0'",
    ]);
    expect(status.data.accounts[0].master_fingerprint).toBe(wallet.fingerprint.toString(16).padStart(8, '0'));
  });

  it('address_range matches the addresses bitcoinjs derives from the account xpub', async () => {
    const r = await startRig();
    const client = await r.client(READER);
    const status = await (async () => {
      const ack = await client.op('device_status', {});
      return client.next((m) => m.msg === 'device_status' && m.nonce === ack.data.nonce);
    })();
    for (const [type, purpose] of [['p2pkh', 44], ['p2wpkh', 84]] as const) {
      const ack = await client.op('address_range', { coin_code: 'BTC', address_type: type, chain: 1, from: 5, count: 20 });
      const reply = await client.next((m) => m.msg === 'address_range' && m.nonce === ack.data.nonce);
      expect(deviceSignatureValid(reply, r.hot.identity!)).toBe(true);
      const xpub = status.data.accounts.find((a: { address_type: string }) => a.address_type === type).xpub as string;
      const expected = oracleAddresses(oracleAccount(xpub, NETWORKS['btc-test'], purpose), NETWORKS['btc-test'], purpose, 1, 5, 20);
      expect(reply.data.addresses.map((a: { address: string }) => a.address)).toEqual(expected);
      expect(reply.data.addresses[0]).toMatchObject({ index: 5, path: `m/${purpose}'/1'/0'/1/5` });
      expect(reply.data.addresses[3].address).toBe(wallet.address(type, 1, 8));
    }
    expectErr(await client.op('address_range', { coin_code: 'BTC', chain: 0, from: 0, count: 1001 }), API_ERROR.PARAMS_INVALID, 'count');
    expectErr(await client.op('address_range', { coin_code: 'LTC', chain: 0, from: 0, count: 1 }), 'COIN_NOT_CONFIGURED', 'coin_code');
  });

  it('tx_request: refusals name the field; a valid one is recorded once; a retry gets the stored record; a conflict is refused', async () => {
    const r = await startRig();
    const client = await r.client();
    await client.op('subscribe', { topics: ['tx'] });
    const good = txRequest('t-1');
    expectErr(await client.op('tx_request', { ...good, outs: `${PAYEES.a},0` }), 'BAD_AMOUNT', 'outs[0].value');
    expectErr(await client.op('tx_request', { ...good, coin_code: 'XRP' }), 'COIN_NOT_CONFIGURED', 'coin_code');
    const { psbt: _psbt, ...withoutPsbt } = good;
    expectErr(await client.op('tx_request', withoutPsbt), 'PSBT_REQUIRED', 'psbt');
    expectErr(await client.op('tx_request', { ...good, psbt: base64(new Uint8Array([1, 2, 3])) }), 'PSBT_MALFORMED', 'psbt');
    const overpaying = txRequest('t-1', 150_001n);
    expectErr(await client.op('tx_request', { ...overpaying, outs: good.outs, vc_code: good.vc_code }), 'PAYMENT_VALUE_MISMATCH', 'outs[0].value');
    expect(r.hot.store.count(requestsCollection)).toBe(0);

    expect((await client.op('tx_request', good)).msg).toBe('ack');
    const pending = await client.next((m) => m.msg === 'tx_status' && m.id !== undefined);
    expect(pending.data).toMatchObject({ hot_wallet_tx_status: 0, tx_hash: null, c_id: CHANNEL_ID, send_request: { user_tx_no: 't-1', coin_code: 'BTC', is_dynamic_fee: 1 } });
    expect(deviceSignatureValid(pending, r.hot.identity!)).toBe(true);

    const retry = await client.op('tx_request', good);
    expect(retry.msg).toBe('ack');
    const stored = await client.next((m) => m.msg === 'tx_status' && m.nonce === retry.data.nonce);
    expect(stored.data).toEqual(pending.data);
    expectErr(await client.op('tx_request', txRequest('t-1', 140_000n)), 'USER_TX_NO_CONFLICT', 'user_tx_no');
    // The same unsigned transaction under another user_tx_no (two approvals for one spend).
    expectErr(await client.op('tx_request', txRequest('t-2')), 'PSBT_ALREADY_REQUESTED', 'psbt');
    expect(r.hot.store.count(requestsCollection)).toBe(1);

    const ask = await client.op('tx_status', { user_tx_no: 't-1' });
    expect((await client.next((m) => m.msg === 'tx_status' && m.nonce === ask.data.nonce)).data.hot_wallet_tx_status).toBe(0);
    expectErr(await client.op('tx_status', { user_tx_no: 'nope' }), 'TX_UNKNOWN', 'user_tx_no');
  });
});

describe('host API: history', () => {
  it('a dropped connection reconnects and catches up with history, message for message', async () => {
    const r = await startRig({ coldRunning: true });
    await r.until(() => r.hot.linkUp);
    const watcher = await r.client();
    await watcher.op('subscribe', { topics: ['tx', 'events'] });
    const worker = await r.client();
    await worker.op('tx_request', txRequest('h-1', 100_000n, 1));
    await r.until(() => watcher.messages('tx_status').length === 2);
    const seen = watcher.messages('tx_status').map((m) => m.id as number);

    watcher.drop();
    await worker.op('tx_request', txRequest('h-2', 110_000n, 2));
    await r.until(() => worker.messages('tx_status').filter((m) => m.data.hot_wallet_tx_status === 1).length === 2);
    r.cold.notify('alert', { code: 'MODEM_A_DOWN' });
    await r.until(() => r.hot.store.count(journalCollection) === 5);

    const back = await r.client();
    const ack = await back.op('history', { since: Math.max(...seen) });
    const end = await back.next((m) => m.msg === 'history' && m.nonce === ack.data.nonce);
    const replayed = back.received.filter((m) => m.id !== undefined);
    expect(replayed.map((m) => [m.msg, m.id])).toEqual([
      ['tx_status', 3],
      ['tx_status', 4],
      ['event', 5],
    ]);
    expect(end.data).toEqual({ since: 2, count: 3, last_id: 5, more: false });
    for (const m of replayed) expect(deviceSignatureValid(m, r.hot.identity!)).toBe(true);
    expect(replayed[1]!.raw).toBe(worker.received.find((m) => m.id === 4)!.raw);
    expect(replayed[2]!.data).toMatchObject({ kind: 'alert', details: { code: 'MODEM_A_DOWN' } });

    const reader = await r.client(READER);
    const readerAck = await reader.op('history', { since: 0 });
    expect((await reader.next((m) => m.msg === 'history' && m.nonce === readerAck.data.nonce)).data.count).toBe(0);
    const paged = await back.op('history', { since: 0, limit: 2 });
    expect((await back.next((m) => m.msg === 'history' && m.nonce === paged.data.nonce)).data).toEqual({ since: 0, count: 2, last_id: 2, more: true });
  });
});
