import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nonceCollection } from '../../hsm-hot/api-keys.ts';
import { journalCollection } from '../../hsm-hot/journal.ts';
import { requestsCollection } from '../../hsm-hot/requests.ts';
import { SeededRandom } from '../../shared/random.ts';
import { PlatformClient, nextNonce } from '../hot/client.ts';
import { HotRig } from '../hot/rig.ts';
import { CHANNEL_ID, PAYEES, PLATFORM, TEST_CONFIG, WalletFixture, base64, buildPsbt, outsOf, vcCode } from '../hot/wallet-fixture.ts';

const UNSIGNED_MESSAGES = 10_000;
const SIGNED_MESSAGES = 300;
const BATCH = 250;

const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 60,
  -0,
  '',
  'x'.repeat(2000),
  '\u0000\u202e\ud800',
  [],
  {},
  { __proto__: { polluted: 1 } },
  JSON.parse('{"__proto__":{"polluted":1}}'),
  JSON.parse(`${'['.repeat(24)}1${']'.repeat(24)}`),
  { constructor: { prototype: { polluted: 1 } } },
  'AUTH',
  PLATFORM.publicKey.toUpperCase(),
];
const TOKENS = ['{', '}', '[', ']', '"', ',', ':', 'null', '1e999', '-0', '\\u0000', '\\', '\n', ' ', 'true', '"op"', '"data"', '\u00ff'];

function randomText(random: SeededRandom, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(random.between(0x20, random.chance(0.1) ? 0x2fff : 0x7e));
  return out;
}

function setAtRandomPath(random: SeededRandom, value: unknown, replacement: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || (depth > 0 && random.chance(0.3))) return replacement;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 0 || random.chance(0.15)) return { ...object, [random.pick(['op', 'data', 'params', 'nonce', 'key', 'extra', '__proto__'])]: replacement };
  const key = random.pick(keys);
  return Array.isArray(value)
    ? value.map((v, i) => (String(i) === key ? setAtRandomPath(random, v, replacement, depth + 1) : v))
    : { ...object, [key]: setAtRandomPath(random, object[key], replacement, depth + 1) };
}

/** One hostile message derived from a valid, already spent one. */
function fuzzed(random: SeededRandom, base: string): string {
  switch (random.int(10)) {
    case 0: {
      const chars = [...base];
      for (let n = random.between(1, 5); n > 0; n--) chars[random.int(chars.length)] = String.fromCharCode(random.between(0x20, 0x7e));
      return chars.join('');
    }
    case 1:
      return base.slice(0, random.int(base.length));
    case 2: {
      const at = random.int(base.length);
      return base.slice(0, at) + base.slice(at + random.between(1, 40));
    }
    case 3: {
      const at = random.int(base.length);
      return base.slice(0, at) + random.pick(TOKENS) + base.slice(at);
    }
    case 4: {
      const at = random.int(base.length);
      const length = random.between(1, 60);
      return base.slice(0, at + length) + base.slice(at, at + length) + base.slice(at + length);
    }
    case 5:
    case 6:
      return JSON.stringify(setAtRandomPath(random, JSON.parse(base), random.pick(HOSTILE_VALUES)));
    case 7:
      return randomText(random, random.between(0, 300));
    case 8:
      return random.pick([
        '['.repeat(random.between(100, 20_000)),
        `${'{"a":'.repeat(random.between(10, 5_000))}1${'}'.repeat(10)}`,
        '{"op":"auth","data":{"apiVersion":1,"key":"02","nonce":1e400,"signed":""}}',
        '{"op":"constructor","data":{}}',
        '{"op":"__proto__","data":{"__proto__":{"polluted":true}}}',
        '"just a string"',
        'null',
        '12345',
        '',
      ]);
    default:
      return JSON.stringify({ op: random.pick(['auth', 'tx_request', 'history', 'x']), data: random.pick(HOSTILE_VALUES) });
  }
}

/** Sends `texts` in batches and returns every reply; each message must get exactly one. */
async function sendAll(client: PlatformClient, texts: string[]): Promise<Array<{ msg: string; code: string | undefined }>> {
  const start = client.received.length;
  for (let i = 0; i < texts.length; i += BATCH) {
    const batch = texts.slice(i, i + BATCH);
    for (const text of batch) client.sendRaw(text);
    const expected = start + i + batch.length;
    await client.next(() => client.received.length >= expected, 0, 30_000);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  return client.received.slice(start).map((m) => ({ msg: m.msg, code: m.data?.code as string | undefined }));
}

let rig: HotRig;

beforeAll(async () => {
  rig = await HotRig.create({
    coldRunning: false,
    config: { ...TEST_CONFIG, api: { maxMessageBytes: 32 * 1024, hardMessageBytes: 4 * 1024 * 1024, keyBurst: 1_000_000, connectionBurst: 1_000_000 } },
  });
});
afterAll(async () => {
  await rig.close();
});

function snapshot(): string {
  const store = rig.hot.store;
  return JSON.stringify({
    nonces: [...store.range(nonceCollection)].map((e) => [e.key, e.value.last]),
    journal: store.count(journalCollection),
    requests: store.count(requestsCollection),
  });
}

describe('host API fuzz', () => {
  it(`${UNSIGNED_MESSAGES} malformed, mutated and replayed messages: one err each, nothing changes, the server keeps serving`, async () => {
    const random = new SeededRandom('host-api-fuzz');
    const client = await rig.client();
    const wallet = new WalletFixture();
    const coins = wallet.fund([{ type: 'p2wpkh', chain: 0, index: 1, amount: 100_000n }]);
    const payments = [{ address: PAYEES.b, amount: 90_000n }];
    const outs = outsOf(payments);
    const txParams = {
      coin_code: 'BTC',
      user_tx_no: 'fuzz-1',
      outs,
      vc_code: vcCode({ coinCode: 'BTC', userTxNo: 'fuzz-1', outs, isDynamicFee: 1 }),
      is_dynamic_fee: 1,
      c_id: CHANNEL_ID,
      psbt: base64(buildPsbt(wallet, { coins, payments, change: [{ type: 'p2wpkh', index: 0, amount: 9_000n }] })),
    };
    // Valid, signed messages whose nonces are then spent: any mutation that still parses and
    // verifies is a replay.
    const bases: string[] = [];
    for (const [op, params] of [
      ['device_status', {}],
      ['history', { since: 0 }],
      ['tx_status', { user_tx_no: 'fuzz-1' }],
      ['address_range', { coin_code: 'BTC', chain: 1, from: 0, count: 3 }],
    ] as const) {
      const nonce = nextNonce(PLATFORM.publicKey);
      const text = client.signedText(op, params, nonce);
      bases.push(text);
      await client.sendText(text, nonce);
    }
    const spentTx = client.signedText('tx_request', { ...txParams, user_tx_no: 'fuzz-0', vc_code: 'AAAA' }, nextNonce(PLATFORM.publicKey));
    bases.push(spentTx);
    bases.push(JSON.stringify({ op: 'auth', data: { apiVersion: 1, key: PLATFORM.publicKey, nonce: 1, signed: 'H'.repeat(88) } }));
    await client.sendText(spentTx, Number(JSON.parse(spentTx).data.nonce));

    const before = snapshot();
    const texts: string[] = [];
    for (let i = 0; i < UNSIGNED_MESSAGES; i++) {
      if (i % 1000 === 999) texts.push(JSON.stringify({ op: 'device_status', data: { pad: 'p'.repeat(40 * 1024) } }));
      else texts.push(fuzzed(random, random.pick(bases)));
    }
    const replies = await sendAll(client, texts);
    expect(replies).toHaveLength(UNSIGNED_MESSAGES);
    expect(replies.filter((r) => r.msg !== 'err')).toEqual([]);
    const codes = new Map<string, number>();
    for (const r of replies) codes.set(r.code ?? '?', (codes.get(r.code ?? '?') ?? 0) + 1);
    expect(codes.get('MESSAGE_MALFORMED')).toBeGreaterThan(1000);
    expect(codes.get('MESSAGE_TOO_LARGE')).toBe(10);
    expect(codes.has('INTERNAL')).toBe(false);
    expect([...codes.keys()].every((c) => /^[A-Z_]+$/.test(c))).toBe(true);

    expect(snapshot()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(client.closed).toBe(false);
    const ok = await client.op('device_status', {});
    expect(ok.msg).toBe('ack');

    // The same before authentication, on a fresh connection.
    const beforeAnonymous = snapshot();
    const anonymous = await PlatformClient.connect(rig.url);
    const early = await sendAll(anonymous, texts.slice(0, 2_000));
    expect(early.filter((r) => r.msg !== 'err')).toEqual([]);
    expect(early).toHaveLength(2_000);
    expect(snapshot()).toBe(beforeAnonymous);
    expect((await anonymous.auth()).msg).toBe('ack');
  });

  it(`${SIGNED_MESSAGES} correctly signed operations with fuzzed params: refused or answered, never a request or a journal entry`, async () => {
    const random = new SeededRandom('host-api-fuzz-signed');
    const client = await rig.client();
    const journal = rig.hot.store.count(journalCollection);
    const requests = rig.hot.store.count(requestsCollection);
    const replies: Array<{ msg: string; code: string | undefined }> = [];
    for (let i = 0; i < SIGNED_MESSAGES; i++) {
      const op = random.pick(['tx_request', 'tx_status', 'address_range', 'address_batch', 'subscribe', 'history'] as const);
      let params: Record<string, unknown> = { coin_code: 'BTC', user_tx_no: `f${i}`, outs: `${PAYEES.a},1000`, c_id: 1, vc_code: 'x', chain: 0, from: 0, count: 1, since: 0 };
      for (let n = random.between(1, 4); n > 0; n--) params = setAtRandomPath(random, params, random.pick(HOSTILE_VALUES.filter((v) => typeof v !== 'number' || Number.isSafeInteger(v)))) as Record<string, unknown>;
      if (typeof params !== 'object' || params === null || Array.isArray(params)) params = { value: params };
      const reply = await client.op(op, params);
      replies.push({ msg: reply.msg, code: reply.data.code as string | undefined });
    }
    expect(replies).toHaveLength(SIGNED_MESSAGES);
    expect(replies.filter((r) => r.msg === 'err').length).toBeGreaterThan(SIGNED_MESSAGES * 0.9);
    expect(replies.some((r) => r.code === 'INTERNAL')).toBe(false);
    expect(rig.hot.store.count(requestsCollection)).toBe(requests);
    expect(rig.hot.store.count(journalCollection)).toBe(journal);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
