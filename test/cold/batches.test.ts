import { describe, expect, it } from 'vitest';
import { parseColdMessage } from '../../shared/chaincloud/sms.ts';
import { batchContentString } from '../../shared/crypto/batch-content.ts';
import { CHAIN, accountSpec, deriveAddresses, exportAccountXpub, importAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { p2pkhAddress } from '../../shared/crypto/address.ts';
import { Refusal } from '../../shared/link/rpc.ts';
import { answerBatchCheck } from '../../hsm-cold/batches.ts';
import { handleChannelOk, handleChannelRequest } from '../../hsm-cold/channel.ts';
import { pinHotXpubs } from '../../hsm-cold/pairing.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import { bitcoinMessage } from '../oracle/bitcoinjs.ts';
import { MNEMONIC, V_DEVICE, VDeviceKeys, coldFixture, type ColdFixture } from './fixture.ts';

const HOT_MNEMONIC = 'legal winner thank year wave sausage worth useful legal winner thank yellow';

function open(f: ColdFixture): { cId: number; qc: string } {
  f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, new VDeviceKeys().next()));
  const reply = parseColdMessage(f.sent.at(-1)!.text);
  if (reply.kind !== 'channel-reply') throw new Error('no QC');
  f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, reply.cId));
  return { cId: reply.cId, qc: reply.qc };
}

function hotAccount(): { coin: 'BTC'; network: 'btc-main'; type: 'p2pkh'; account: number; xpub: string } {
  const spec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
  return { coin: 'BTC', network: 'btc-main', type: 'p2pkh', account: 0, xpub: exportAccountXpub(mnemonicToSeed(HOT_MNEMONIC), spec) };
}

describe('address batch checks', () => {
  it('signs a cold batch with the channel key; bitcoinjs-message verifies it against QC', async () => {
    const f = coldFixture();
    const { cId, qc } = open(f);
    const progress: number[] = [];
    f.svc.progress = (_job, done) => progress.push(done);
    const outcome = await answerBatchCheck(f.svc, f.svc.store, 'cold', 'BTC', 2);
    if (!outcome.ok) throw new Error(outcome.reason);
    const reply = parseColdMessage(outcome.text);
    expect(reply).toMatchObject({ kind: 'addresses', addressType: 'cold', batchNo: 2, cId, coin: 'BTC' });
    if (reply.kind !== 'addresses') return;
    // The V-Device's check: the content of batch 2 of the cold account, signed by QC.
    const spec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
    const account = importAccountXpub(exportAccountXpub(mnemonicToSeed(MNEMONIC), spec), spec);
    const content = batchContentString(deriveAddresses(account, spec, CHAIN.external, 2000, 1000));
    expect(content.startsWith('0,')).toBe(true);
    const qcAddress = p2pkhAddress(Buffer.from(qc, 'hex'), NETWORKS['btc-main']);
    expect(bitcoinMessage.verify(content, qcAddress, reply.signature)).toBe(true);
    expect(bitcoinMessage.verify(content.replace('0,', '1,'), qcAddress, reply.signature)).toBe(false);
    expect(progress.at(-1)).toBe(1000);
    await f.close();
  });

  it('signs hot batches only from the pinned hot xpub', async () => {
    const f = coldFixture();
    const { qc } = open(f);
    expect(await answerBatchCheck(f.svc, f.svc.store, 'hot', 'BTC', 0)).toMatchObject({ ok: false, reason: expect.stringContaining('not paired yet') });
    const pinned = f.svc.store.transact((tx) => pinHotXpubs(f.svc, tx, { accounts: [hotAccount()] }));
    expect(pinned).toMatchObject({ accounts: [{ coin: 'BTC' }] });
    const outcome = await answerBatchCheck(f.svc, f.svc.store, 'hot', 'BTC', 0);
    if (!outcome.ok) throw new Error(outcome.reason);
    const reply = parseColdMessage(outcome.text);
    if (reply.kind !== 'addresses') throw new Error('no batch reply');
    const spec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 0);
    const content = batchContentString(deriveAddresses(importAccountXpub(hotAccount().xpub, spec), spec, CHAIN.external, 0, 1000));
    expect(bitcoinMessage.verify(content, p2pkhAddress(Buffer.from(qc, 'hex'), NETWORKS['btc-main']), reply.signature)).toBe(true);
    await f.close();
  });

  it('refuses without an open channel or for a coin it does not serve', async () => {
    const f = coldFixture();
    expect(await answerBatchCheck(f.svc, f.svc.store, 'cold', 'BTC', 0)).toEqual({ ok: false, reason: 'no open channel' });
    open(f);
    expect(await answerBatchCheck(f.svc, f.svc.store, 'cold', 'DOGE', 0)).toEqual({ ok: false, reason: 'DOGE is not served by this device' });
    await f.close();
  });
});

describe('pinning hot xpubs', () => {
  it('pins once, answers the same set again, refuses a different set with an alert', async () => {
    const f = coldFixture();
    const first = f.svc.store.transact((tx) => pinHotXpubs(f.svc, tx, { accounts: [hotAccount()] }));
    expect(first).not.toBeInstanceOf(Refusal);
    expect(f.svc.store.transact((tx) => pinHotXpubs(f.svc, tx, { accounts: [hotAccount()] }))).toEqual(first);
    const otherSpec = accountSpec(NETWORKS['btc-main'], 'p2pkh', 1);
    const other = { ...hotAccount(), account: 1, xpub: exportAccountXpub(mnemonicToSeed(HOT_MNEMONIC), otherSpec) };
    const refused = f.svc.store.transact((tx) => pinHotXpubs(f.svc, tx, { accounts: [other] }));
    expect(refused).toBeInstanceOf(Refusal);
    expect((refused as Refusal).error.code).toBe('XPUB_CONFLICT');
    expect(f.sent.some((s) => s.text.includes('differ from the pinned ones'))).toBe(true);
    const wrong = f.svc.store.transact((tx) => pinHotXpubs(f.svc, tx, { accounts: [{ ...hotAccount(), network: 'btc-test' }] }));
    expect((wrong as Refusal).error.code).toBe('XPUB_WRONG_NETWORK');
    expect(f.svc.store.get(COLD_RECORDS.device, 'current')?.hotAccounts).toEqual([hotAccount()]);
    await f.close();
  });
});
