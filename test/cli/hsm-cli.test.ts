import { describe, expect, it } from 'vitest';
import { open } from 'lmdb';
import { Packr } from 'msgpackr';
import { join } from 'node:path';
import { accountSpec, importAccountXpub, mnemonicToSeed, exportAccountXpub } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { encodeWif } from '../../shared/crypto/wif.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import { SeededRandom } from '../../shared/random.ts';
import { checkpointDue, writeCheckpoint } from '../../shared/store/audit.ts';
import { createIdentity, identitySigner } from '../../shared/store/identity.ts';
import { DeviceStore, STORE_FILE } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { hsm } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { loadVectors } from '../helpers/vectors.ts';

const BIP84_XPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';

describe('hsm CLI', () => {
  it('--help lists every command group, with sim (npm start) and demo first', async () => {
    const help = await hsm(['--help']);
    expect(help.code).toBe(0);
    const commands = [...help.stdout.slice(help.stdout.indexOf('Commands:')).matchAll(/^  ([a-z][a-z-]*)/gm)].map((m) => m[1]);
    expect(commands.slice(0, 2)).toEqual(['sim', 'demo']);
    for (const command of ['console', 'keys', 'msg', 'vtest', 'audit', 'bench', 'modem-sim']) expect(commands).toContain(command);
  });

  it('sim explains bad options and exits 2 without starting anything', async () => {
    const scale = await hsm(['sim', '--time-scale', 'fast']);
    expect(scale.code).toBe(2);
    expect(scale.stderr).toContain('--time-scale must be a number');
    const vDevice = await hsm(['sim', '--v-device', 'phone']);
    expect(vDevice.code).toBe(2);
    expect(vDevice.stderr).toContain('--v-device must be "emulated", "emulated+sim2-failover" or "external:<pty path>"');
    const seed = await hsm(['sim', '--seed', '/nonexistent/seed']);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toContain('--seed: cannot read /nonexistent/seed');
  });

  it('keys new prints a valid mnemonic and the account xpubs it yields', async () => {
    const result = await hsm(['keys', 'new', '--words', '12', '--json']);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { mnemonic: string; accounts: Array<{ network: string; type: 'p2pkh' | 'p2wpkh'; xpub: string }> };
    expect(out.mnemonic.split(' ')).toHaveLength(12);
    expect(out.accounts.map((a) => `${a.network}/${a.type}`)).toEqual(['btc-main/p2pkh', 'btc-main/p2wpkh', 'ltc-main/p2pkh', 'ltc-main/p2wpkh', 'doge-main/p2pkh']);
    const seed = mnemonicToSeed(out.mnemonic);
    for (const a of out.accounts) {
      const spec = accountSpec(NETWORKS[a.network as keyof typeof NETWORKS], a.type);
      expect(a.xpub).toBe(exportAccountXpub(seed, spec));
      importAccountXpub(a.xpub, spec);
    }
    expect(result.stderr).toContain('only backup');
  });

  it('keys derive prints the published BIP84 addresses, picking the type from the zpub', async () => {
    const receive = await hsm(['keys', 'derive', '--xpub', BIP84_XPUB, '--coin', 'BTC', '--from', '0', '--count', '2', '--json']);
    expect(receive.code).toBe(0);
    expect(JSON.parse(receive.stdout).addresses).toEqual([
      { index: 0, address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu' },
      { index: 1, address: 'bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g' },
    ]);
    const change = await hsm(['keys', 'derive', '--xpub', BIP84_XPUB, '--coin', 'btc', '--chain', '1', '--count', '1']);
    expect(change.stdout.trim()).toBe("m/84'/0'/0'/1/0  bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el");
  });

  it('keys derive explains bad input and exits 2', async () => {
    const wrongCoin = await hsm(['keys', 'derive', '--xpub', BIP84_XPUB, '--coin', 'LTC', '--type', 'p2pkh']);
    expect(wrongCoin.code).toBe(2);
    expect(wrongCoin.stderr).toMatch(/error: .*btc-main BIP84.*expected an account key for ltc-main BIP44 \[XPUB_WRONG_NETWORK\]/);
    const badChain = await hsm(['keys', 'derive', '--xpub', BIP84_XPUB, '--coin', 'BTC', '--chain', '2', '--json']);
    expect(badChain.code).toBe(2);
    expect(JSON.parse(badChain.stdout).error).toMatchObject({ code: 'BAD_CHAIN', field: 'chain' });
    const badCoin = await hsm(['keys', 'derive', '--xpub', BIP84_XPUB, '--coin', 'ETH']);
    expect(badCoin.stderr).toContain('[UNKNOWN_COIN]');
    const badCount = await hsm(['keys', 'derive', '--xpub', BIP84_XPUB, '--coin', 'BTC', '--count', '12x']);
    expect(badCount.stderr).toContain('--count must be a non-negative integer');
  });

  it('msg sign reads the key from stdin; msg verify exits 0 only when valid', async () => {
    const vector = loadVectors<{ vectors: Array<{ wif: string; address: string; message: string; signature: string }> }>('bip137').vectors[1]!;
    const signed = await hsm(['msg', 'sign', '--message', vector.message, '--json'], vector.wif);
    expect(signed.code).toBe(0);
    expect(JSON.parse(signed.stdout)).toEqual({ address: vector.address, message: vector.message, signature: vector.signature });
    expect(signed.stdout).not.toContain(vector.wif);

    const valid = await hsm(['msg', 'verify', '--address', vector.address, '--message', vector.message, '--signature', vector.signature]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain('valid');
    const invalid = await hsm(['msg', 'verify', '--address', vector.address, '--message', `${vector.message}!`, '--signature', vector.signature, '--json']);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout).valid).toBe(false);
    const malformed = await hsm(['msg', 'verify', '--address', vector.address, '--message', 'm', '--signature', 'AAAA']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('[SIGNATURE_LENGTH]');
    const badAddress = await hsm(['msg', 'verify', '--address', 'LUWPbpM43E2p7ZSh8cyTBEkvpHmr3cB8Ez', '--message', 'm', '--signature', vector.signature]);
    expect(badAddress.code).toBe(2);
    expect(badAddress.stderr).toContain('[ADDRESS_WRONG_NETWORK]');
  });

  it('msg sign signs with a Litecoin prefix when asked, and refuses a bad key', async () => {
    const wif = encodeWif(new Uint8Array(32).fill(5), NETWORKS['ltc-main']);
    const signed = await hsm(['msg', 'sign', '--coin', 'LTC', '--message', 'hi', '--json'], wif);
    const out = JSON.parse(signed.stdout) as { address: string; signature: string };
    expect(out.address.startsWith('L')).toBe(true);
    const verified = await hsm(['msg', 'verify', '--coin', 'LTC', '--address', out.address, '--message', 'hi', '--signature', out.signature]);
    expect(verified.code).toBe(0);
    const bad = await hsm(['msg', 'sign', '--message', 'hi'], 'not-a-key');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[WIF_CHECKSUM]');
  });

  it('vtest decrypts the seed vector and round-trips an encryption', async () => {
    const seed = loadVectors<{ password: string; vtest_info: string; plaintext: string }>('vtest');
    const decrypted = await hsm(['vtest', 'decrypt', '--password', seed.password, '--info', seed.vtest_info, '--json']);
    expect(decrypted.code).toBe(0);
    expect(JSON.parse(decrypted.stdout)).toEqual(JSON.parse(seed.plaintext));
    const payload = '{"outs":"1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY,20000","dynamic":1}';
    const encrypted = await hsm(['vtest', 'encrypt', '--password', 'pw'], payload);
    expect(encrypted.code).toBe(0);
    const back = await hsm(['vtest', 'decrypt', '--password', 'pw'], encrypted.stdout.trim());
    expect(JSON.parse(back.stdout)).toEqual(JSON.parse(payload));
    const wrong = await hsm(['vtest', 'decrypt', '--password', 'nope', '--info', seed.vtest_info]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/\[VTEST_(DECRYPT|PAYLOAD)\]/);
    const badPayload = await hsm(['vtest', 'encrypt', '--password', 'pw', '--payload', '{"outs":""}']);
    expect(badPayload.code).toBe(2);
    expect(badPayload.stderr).toContain('[VTEST_PAYLOAD]');
  });

  it('audit verify passes a good log and names the first bad entry of an edited one', async () => {
    const dir = tempDir();
    const clock = new SimulatedClock();
    const random = new SeededRandom('cli-audit');
    const store = DeviceStore.open(dir, { app: 'hsm-cold', schemaVersion: 1, clock });
    const vault = new Vault(store, random);
    vault.initialise('1357', { kdf: { N: 1024, r: 8, p: 1 } });
    const identity = store.transact((tx) => createIdentity(tx, vault, random, clock.now()));
    for (let i = 0; i < 12; i++) {
      store.transact((tx) => {
        tx.audit('approval.granted', { n: i });
        if (checkpointDue(tx, 5)) writeCheckpoint(tx, 'hsm-cold', identitySigner(tx, vault), clock.now());
      });
    }
    await store.close();

    const good = await hsm(['audit', 'verify', dir, '--identity', identity]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('OK: hsm-cold audit log, 15 entries');

    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const raw = open({ path: join(dir, STORE_FILE), maxDbs: 64 });
    const audit = raw.openDB({ name: 'sys.audit', encoding: 'binary' });
    const entry = packr.unpack(audit.getBinary(7)!) as { details: Record<string, unknown> };
    audit.putSync(7, packr.pack({ ...entry, details: { n: 100 } }));
    await raw.close();

    const bad = await hsm(['audit', 'verify', dir, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; firstBadSeq: number; problems: Array<{ code: string }> };
    expect(report.ok).toBe(false);
    expect(report.firstBadSeq).toBe(7);
    expect(report.problems[0]!.code).toBe('AUDIT_HASH');

    const missing = await hsm(['audit', 'verify', tempDir()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('[STORE_MISSING]');
    const badIdentity = await hsm(['audit', 'verify', dir, '--identity', 'zz']);
    expect(badIdentity.stderr).toContain('--identity must be');
  });

  it('bench --only names an unknown section and runs nothing', async () => {
    const result = await hsm(['bench', '--only', 'libraries,nope']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'BAD_OPTION', field: 'only', message: '--only: unknown section nope (libraries, withdrawals, process, emulated)' } });
  });

  it('bench --quick prints JSON figures with outputs asserted identical', async () => {
    const result = await hsm(['bench', '--quick', '--only', 'libraries']);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { figures: Array<{ name: string; ours: number; speedup: Record<string, number>; identicalOutputs?: boolean }> };
    const batch = out.figures.find((f) => f.name.startsWith('address batch'))!;
    expect(batch.identicalOutputs).toBe(true);
    expect(Object.keys(batch.speedup)).toEqual(['@scure/bip32 child by child', 'bitcoinjs-lib + bip32 + tiny-secp256k1']);
    expect(out.figures.some((f) => f.name.startsWith('BIP-137 verify'))).toBe(true);
    const memory = (JSON.parse(result.stdout) as { batchJobMemory: { addresses: number; peakBytes: number; peakRetainedBytes: number } }).batchJobMemory;
    expect(memory.addresses).toBeGreaterThan(0);
    expect(memory.peakRetainedBytes).toBeGreaterThan(0);
  }, 120_000);
});

