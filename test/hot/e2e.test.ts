import { afterEach, describe, expect, it } from 'vitest';
import { coldAccountsCollection, hotAccountsCollection } from '../../hsm-hot/accounts.ts';
import { pendingRequestsCollection, requestsCollection } from '../../hsm-hot/requests.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { RPC_COLLECTIONS } from '../../shared/link/rpc.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { oracleAccount, oracleAddresses } from '../oracle/bitcoinjs.ts';
import { deviceSignatureValid, type PlatformClient, type ServerMessage } from './client.ts';
import { HotRig } from './rig.ts';
import { countCommits } from '../helpers/commits.ts';
import { verifySignedTransaction } from './verify-signed.ts';
import { CHANNEL_ID, PAYEES, PIN, STRANGER, WalletFixture, base64, buildPsbt, outsOf, testKey, vcCode, type Coin } from './wallet-fixture.ts';

let rig: HotRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const wallet = new WalletFixture();

interface Withdrawal {
  params: Record<string, unknown>;
  coins: Coin[];
}

/** A withdrawal as the platform sends it: outs approved by the V-Device and the PSBT for them. */
function withdrawal(userTxNo: string, options: { amounts?: bigint[]; salt?: number; vcKey?: Uint8Array } = {}): Withdrawal {
  const amounts = options.amounts ?? [60_000n, 40_000n];
  const coins = wallet.fund(
    [
      { type: 'p2pkh', chain: 0, index: 11, amount: 150_000n },
      { type: 'p2wpkh', chain: 1, index: 3, amount: 100_000n },
    ],
    options.salt ?? 0,
  );
  const payees = [PAYEES.a, PAYEES.b, PAYEES.c];
  const payments = amounts.map((amount, i) => ({ address: payees[i % payees.length] as string, amount }));
  const paid = amounts.reduce((a, b) => a + b, 0n);
  const psbt = buildPsbt(wallet, { coins, payments, change: [{ type: 'p2wpkh', index: 4, amount: 250_000n - paid - 6_000n }] });
  const outs = outsOf(payments);
  return {
    coins,
    params: {
      coin_code: 'BTC',
      user_tx_no: userTxNo,
      outs,
      vc_code: vcCode({ coinCode: 'BTC', userTxNo, outs, isDynamicFee: 1 }, options.vcKey),
      is_dynamic_fee: 1,
      c_id: CHANNEL_ID,
      psbt: base64(psbt),
    },
  };
}

function finalStatus(client: PlatformClient, userTxNo: string): ServerMessage | undefined {
  return client.messages('tx_status').find((m) => m.data.send_request.user_tx_no === userTxNo && m.data.hot_wallet_tx_status !== 0);
}

function signedCount(r: HotRig, userTxNo: string): number {
  return [...r.hot.store.range(SYSTEM_COLLECTIONS.audit)].filter((e) => e.value.kind === 'tx.signed' && e.value.details.userTxNo === userTxNo).length;
}

async function readyRig(options: Parameters<typeof HotRig.create>[0] = {}): Promise<HotRig> {
  rig = await HotRig.create(options);
  await rig.until(() => rig!.hot.linkUp);
  return rig;
}

describe('end to end over the emulated serial pair', () => {
  it('approved: HSM-Cold approves, HSM-Hot signs, and bitcoinjs verifies every input', async () => {
    const r = await readyRig();
    const client = await r.client();
    const w = withdrawal('e2e-1');
    expect((await client.op('tx_request', w.params)).msg).toBe('ack');
    await r.until(() => finalStatus(client, 'e2e-1') !== undefined);
    const [pending, done] = client.messages('tx_status');
    expect(pending!.data.hot_wallet_tx_status).toBe(0);
    expect(done!.data).toMatchObject({ hot_wallet_tx_status: 1, c_id: CHANNEL_ID, vc_code: w.params.vc_code, fee: 6_000, reason: null });
    expect(done!.data.request_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(done!.data.tx_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(deviceSignatureValid(done!, r.hot.identity!)).toBe(true);
    const report = verifySignedTransaction(done!.data.raw_tx, w.coins.map((c) => ({ script: c.script, amount: c.utxo.amount })));
    expect(report.txid).toBe(done!.data.tx_hash);
    expect(report.outputs.map((o) => o.value)).toEqual([60_000n, 40_000n, 144_000n]);
    expect(r.cold.approvalCount('e2e-1')).toBe(1);
    expect(signedCount(r, 'e2e-1')).toBe(1);
    expect(r.hot.store.count(pendingRequestsCollection)).toBe(0);
    // Nothing stays queued for HSM-Cold (the signed audit head sent after the signature settles too).
    await r.until(() => r.hot.store.count(RPC_COLLECTIONS.outbox) === 0);

    const retry = await client.op('tx_request', w.params);
    const stored = await client.next((m) => m.msg === 'tx_status' && m.nonce === retry.data.nonce);
    expect(stored.data).toEqual(done!.data);
    expect(r.cold.approvalCount('e2e-1')).toBe(1);
  });

  it('the xpubs are exchanged after pairing; Cold Receiving batches are derived from HSM-Cold’s xpub', async () => {
    const r = await readyRig();
    await r.until(() => r.hot.store.count(coldAccountsCollection) === 2);
    expect((r.cold.pinnedHotAccounts as Array<{ xpub: string }>).map((a) => a.xpub)).toEqual(
      [...r.hot.store.range(hotAccountsCollection)].map((e) => e.value.xpub),
    );
    const client = await r.client();
    const ack = await client.op('address_batch', { wallet: 'cold', coin_code: 'BTC', batch_no: 2, address_type: 'p2pkh' });
    expect(ack.msg).toBe('ack');
    const batch = await client.next((m) => m.msg === 'address_batch' && m.nonce === ack.data.nonce, 0, 60_000);
    const xpub = r.cold.accounts.find((a) => a.type === 'p2pkh')!.xpub;
    const expected = oracleAddresses(oracleAccount(xpub, NETWORKS['btc-test'], 44), NETWORKS['btc-test'], 44, 0, 2000, 1000);
    expect(batch.data.addresses).toHaveLength(1000);
    expect(batch.data.addresses[0].index).toBe(2000);
    expect(batch.data.addresses.map((a: { address: string }) => a.address)).toEqual(expected);
    expect(deviceSignatureValid(batch, r.hot.identity!)).toBe(true);
  });

  it('HSM-Hot answers the link diagnostics HSM-Cold may send (time, echo)', async () => {
    const r = await readyRig();
    let time: { now: number } | undefined;
    let echo: { data: Uint8Array } | undefined;
    void r.cold.endpoint!.rpc.call<{ now: number }>('link.time', {}).then((reply) => (time = reply));
    void r.cold.endpoint!.rpc.call<{ data: Uint8Array }>('link.echo', { data: Uint8Array.of(1, 2, 3) }).then((reply) => (echo = reply));
    await r.until(() => time !== undefined && echo !== undefined);
    expect(Math.abs(time!.now - r.clock.now())).toBeLessThan(1_000);
    expect([...echo!.data]).toEqual([1, 2, 3]);
  });

  it('refused by policy: status 9 with HSM-Cold’s reason, nothing signed', async () => {
    const r = await readyRig({ maxPerTx: 90_000n });
    const client = await r.client();
    await client.op('subscribe', { topics: ['events'] });
    await client.op('tx_request', withdrawal('e2e-policy').params);
    await r.until(() => finalStatus(client, 'e2e-policy') !== undefined);
    const done = finalStatus(client, 'e2e-policy')!;
    expect(done.data).toMatchObject({ hot_wallet_tx_status: 9, tx_hash: null, raw_tx: null, reason: { code: 'POLICY_MAX_PER_TX' } });
    expect(signedCount(r, 'e2e-policy')).toBe(0);
    // A failed request frees its transaction: the platform may ask for it again under a new number.
    const again = withdrawal('e2e-policy-2');
    expect(again.params.psbt).toBe(withdrawal('e2e-policy').params.psbt);
    expect((await client.op('tx_request', again.params)).msg).toBe('ack');
    await r.until(() => finalStatus(client, 'e2e-policy-2') !== undefined);
    expect(finalStatus(client, 'e2e-policy-2')!.data.reason.code).toBe('POLICY_MAX_PER_TX');
    await r.until(() => client.messages('event').length === 2);
    expect(client.messages('event')[0]!.data).toMatchObject({ kind: 'approval.refused', details: { userTxNo: 'e2e-policy', code: 'POLICY_MAX_PER_TX' } });
  });

  it('a forged vc_code: status 9, the channel is closed, subscribers hear of it, later requests fail', async () => {
    const r = await readyRig();
    const client = await r.client();
    await client.op('subscribe', { topics: ['tx', 'events'] });
    await client.op('tx_request', withdrawal('e2e-forged', { vcKey: STRANGER.privateKey }).params);
    await r.until(() => finalStatus(client, 'e2e-forged') !== undefined && client.messages('event').length === 2);
    expect(finalStatus(client, 'e2e-forged')!.data).toMatchObject({ hot_wallet_tx_status: 9, reason: { code: 'VC_CODE_INVALID' } });
    expect(r.cold.channel(CHANNEL_ID)?.status).toBe('closed');
    expect(client.messages('event').map((m) => m.data.kind)).toEqual(['channel.closed', 'alert']);
    expect(client.messages('event')[0]!.data.details).toEqual({ cId: CHANNEL_ID, reason: 'forged vc_code' });

    const ask = await client.op('channel_status', {});
    await r.until(() => client.messages('channel_status').length === 1);
    const status = client.messages('channel_status')[0]!;
    expect(status.nonce).toBe(ask.data.nonce);
    expect(status.data).toMatchObject({ link: 'up', source: 'cold', channel: { cId: CHANNEL_ID, status: 'closed' }, last_event: { kind: 'alert' } });

    await client.op('tx_request', withdrawal('e2e-after', { salt: 1 }).params);
    await r.until(() => finalStatus(client, 'e2e-after') !== undefined);
    expect(finalStatus(client, 'e2e-after')!.data.reason.code).toBe('CHANNEL_CLOSED');
    expect(signedCount(r, 'e2e-forged') + signedCount(r, 'e2e-after')).toBe(0);
  });

  it('an approval not signed by the pinned HSM-Cold key is refused: status 9, nothing signed', async () => {
    const r = await readyRig();
    r.cold.impostorKey = testKey('impostor').privateKey;
    const client = await r.client();
    await client.op('tx_request', withdrawal('e2e-impostor').params);
    await r.until(() => finalStatus(client, 'e2e-impostor') !== undefined);
    expect(finalStatus(client, 'e2e-impostor')!.data).toMatchObject({ hot_wallet_tx_status: 9, raw_tx: null, reason: { code: 'APPROVAL_INVALID' } });
    expect(r.cold.approvalCount('e2e-impostor')).toBe(1);
    expect(signedCount(r, 'e2e-impostor')).toBe(0);
    expect([...r.hot.store.range(SYSTEM_COLLECTIONS.audit)].some((e) => e.value.kind === 'alert.approval-invalid')).toBe(true);
  });

  it('the V-Device PING is verified by HSM-Cold and answered; nothing is signed', async () => {
    const r = await readyRig();
    const client = await r.client();
    const userTxNo = '6f1c2a90-0b7e-4f0e-9d51-0c8f3e2b7a11';
    await client.op('tx_request', {
      coin_code: 'BTC',
      user_tx_no: userTxNo,
      outs: 'PING',
      vc_code: vcCode({ coinCode: 'BTC', userTxNo, outs: 'PING', isDynamicFee: 1 }),
      is_dynamic_fee: 1,
      c_id: CHANNEL_ID,
    });
    await r.until(() => finalStatus(client, userTxNo) !== undefined);
    expect(finalStatus(client, userTxNo)!.data).toMatchObject({ hot_wallet_tx_status: 1, tx_hash: null, raw_tx: null });
    expect(r.hot.store.get(requestsCollection, userTxNo)?.approval?.kind).toBe('ping');
  });

  it('a tx_request and its approval request commit together: one durable commit, acknowledged after it', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const client = await r.client();
    const commits = countCommits(r.hot.store);
    const approvalRequests = (): number => [...r.hot.store.range(RPC_COLLECTIONS.outbox)].filter((e) => e.value.type === 'cold.approve').length;
    await client.op('tx_request', withdrawal('e2e-one-commit').params);
    expect(approvalRequests()).toBe(1);
    await r.clock.advance(1000);
    expect(commits()).toBe(1);
    expect(approvalRequests()).toBe(1);
  });

  it('HSM-Cold unreachable: the request waits at status 0 and completes when the link returns', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const client = await r.client();
    await client.op('tx_request', withdrawal('e2e-wait').params);
    await r.clock.advance(10 * 60_000);
    expect(finalStatus(client, 'e2e-wait')).toBeUndefined();
    const ask = await client.op('tx_status', { user_tx_no: 'e2e-wait' });
    expect((await client.next((m) => m.msg === 'tx_status' && m.nonce === ask.data.nonce)).data.hot_wallet_tx_status).toBe(0);
    expect(r.hot.store.count(RPC_COLLECTIONS.outbox)).toBeGreaterThanOrEqual(1);
    const channel = await client.op('channel_status', {});
    expect((await client.next((m) => m.msg === 'channel_status' && m.nonce === channel.data.nonce)).data).toMatchObject({ link: 'down', source: 'none' });

    r.cold.boot();
    await r.until(() => finalStatus(client, 'e2e-wait') !== undefined);
    expect(finalStatus(client, 'e2e-wait')!.data.hot_wallet_tx_status).toBe(1);
    expect(r.cold.approvalCount('e2e-wait')).toBe(1);
  });

  it('a pulled cable at either end: the request completes after the cable is back, without a second approval', async () => {
    const r = await readyRig();
    const client = await r.client();
    r.wire.unplug('b');
    await client.op('tx_request', withdrawal('e2e-cable').params);
    await r.clock.advance(60_000);
    expect(r.hot.linkUp).toBe(false);
    r.wire.replug('b');
    await r.cold.reboot();
    await r.until(() => finalStatus(client, 'e2e-cable') !== undefined);
    expect(finalStatus(client, 'e2e-cable')!.data.hot_wallet_tx_status).toBe(1);
    expect(r.cold.approvalCount('e2e-cable')).toBe(1);

    // Now HSM-Hot's end: its port goes away; the link region retries until it can open it again.
    r.wire.unplug('a');
    await client.op('tx_request', withdrawal('e2e-cable-2', { salt: 1 }).params);
    await r.clock.advance(30_000);
    expect(r.hot.linkUp).toBe(false);
    expect(r.hot.error?.code).toBe('PORT_UNAVAILABLE');
    r.wire.replug('a');
    await r.until(() => finalStatus(client, 'e2e-cable-2') !== undefined);
    expect(finalStatus(client, 'e2e-cable-2')!.data.hot_wallet_tx_status).toBe(1);
    expect(r.cold.approvalCount('e2e-cable-2')).toBe(1);
  });

  it('both devices restart between the approval and its reply: one approval, one signature, one transaction', async () => {
    const r = await readyRig();
    let client = await r.client();
    const w = withdrawal('e2e-crash');
    await client.op('tx_request', w.params);
    await r.until(() => r.cold.approvalCount('e2e-crash') === 1, 10_000);
    r.wire.unplug('b'); // the reply on the wire dies with the power
    await r.cold.shutdown();
    await r.hot.stop();
    expect(r.hot.store.isClosed).toBe(true);

    r.wire.replug('b');
    r.cold.powerOn();
    r.hot = await r.startHot();
    await r.hot.unlock(PIN);
    expect(r.hot.store.get(requestsCollection, 'e2e-crash')?.status).toBe(0);
    await r.until(() => r.hot.store.get(requestsCollection, 'e2e-crash')?.status === 1);
    // The approval's recorded reply is replayed (so may be those of other requests that were in
    // the link's send window at the crash); the approval is not applied again. (Other requests
    // may be: each device sends its signed audit head at boot, which the peer records.)
    expect(r.cold.endpoint?.rpc.stats().duplicatesReplayed).toBeGreaterThanOrEqual(1);
    expect(r.cold.approvalCount('e2e-crash')).toBe(1);
    expect(signedCount(r, 'e2e-crash')).toBe(1);

    client = await r.client();
    const retry = await client.op('tx_request', w.params);
    const stored = await client.next((m) => m.msg === 'tx_status' && m.nonce === retry.data.nonce);
    expect(stored.data.hot_wallet_tx_status).toBe(1);
    verifySignedTransaction(stored.data.raw_tx, w.coins.map((c) => ({ script: c.script, amount: c.utxo.amount })));

    await r.restartHot();
    await r.until(() => r.hot.linkUp);
    await r.clock.advance(60_000);
    expect(signedCount(r, 'e2e-crash')).toBe(1);
    expect(r.cold.approvalCount('e2e-crash')).toBe(1);
    const again = await r.client();
    const history = await again.op('history', { since: 0 });
    await again.next((m) => m.msg === 'history' && m.nonce === history.data.nonce);
    const statuses = again.messages('tx_status').filter((m) => m.id !== undefined).map((m) => [m.data.hot_wallet_tx_status, m.data.tx_hash]);
    expect(statuses).toEqual([
      [0, null],
      [1, stored.data.tx_hash],
    ]);
  });
});
