import { describe, expect, it } from 'vitest';
import { approvalStatementText, requestHash, verifyApproval } from '../../shared/chaincloud/approval.ts';
import { parseColdMessage } from '../../shared/chaincloud/sms.ts';
import { p2pkhAddress } from '../../shared/crypto/address.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import type { HotSendRequest } from '../../shared/crypto/request-string.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { Refusal } from '../../shared/link/rpc.ts';
import { approve, type ApproveReply, type ApproveRequest } from '../../hsm-cold/approvals.ts';
import { channelById, handleChannelOk, handleChannelRequest } from '../../hsm-cold/channel.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import { ADMIN, V_DEVICE, VDeviceKeys, baseConfig, coldFixture, vcCode, type ColdFixture } from './fixture.ts';

const A = '1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY';
const B = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

function withChannel(f: ColdFixture): { cId: number; secret: Uint8Array } {
  const key = new VDeviceKeys().next();
  f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, key));
  const reply = parseColdMessage(f.sent.at(-1)!.text);
  if (reply.kind !== 'channel-reply') throw new Error('no QC');
  f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, reply.cId));
  return { cId: reply.cId, secret: key.secret };
}

function request(userTxNo: string, outs: string, isDynamicFee: 0 | 1 = 0): HotSendRequest {
  return { coinCode: 'BTC', userTxNo, outs, isDynamicFee };
}

function ask(f: ColdFixture, r: HotSendRequest, cId: number, secret: Uint8Array, vc?: string): ApproveReply | Refusal {
  const body: ApproveRequest = { ...r, vcCode: vc ?? vcCode(r, secret), cId, requestedAt: f.clock.now() };
  return f.svc.store.transact((tx) => approve(f.svc, tx, body));
}

function refusalCode(result: ApproveReply | Refusal): string | undefined {
  return result instanceof Refusal ? result.error.code : undefined;
}

describe('approvals', () => {
  it('approves a request signed with the channel key; the statement verifies with the pinned identity', async () => {
    const f = coldFixture();
    const { cId, secret } = withChannel(f);
    const r = request('8', `${A},2000;${B},3000`);
    const reply = ask(f, r, cId, secret) as ApproveReply;
    expect(reply).toMatchObject({ kind: 'spend', userTxNo: '8', cId, requestHash: requestHash(r) });
    expect(verifyApproval({ ...reply }, reply.signature, f.identity)).toBe(true);
    expect(verifyApproval({ ...reply, userTxNo: '9' }, reply.signature, f.identity)).toBe(false);
    expect(approvalStatementText(reply)).toContain(`\n8\n${cId}\n`);
    expect([...f.svc.store.range(COLD_RECORDS.spends)].map((e) => e.value.amount)).toEqual(['5000']);
    await f.close();
  });

  it('answers PING without recording a spend', async () => {
    const f = coldFixture();
    const { cId, secret } = withChannel(f);
    const reply = ask(f, request('1b4e28ba-2fa1-11d2-883f-0016d3cca427', 'PING'), cId, secret) as ApproveReply;
    expect(reply.kind).toBe('ping');
    expect(f.svc.store.count(COLD_RECORDS.spends)).toBe(0);
    await f.close();
  });

  it('a forged vc_code closes the channel, alerts every administrator and is refused', async () => {
    const f = coldFixture({ config: baseConfig({ adminNumbers: [ADMIN, '+8613900000003'] }) });
    const { cId, secret } = withChannel(f);
    const r = request('10', `${A},5000`);
    const forged = vcCode({ ...r, outs: `${B},5000` }, secret); // signed by the right key, over another request
    expect(refusalCode(ask(f, r, cId, secret, forged))).toBe('VC_CODE_INVALID');
    expect(channelById(f.svc.store, cId)).toMatchObject({ status: 'closed' });
    expect(f.sent.filter((s) => s.text.startsWith(`HSM-COLD ALERT: channel ${cId} closed: forged vc_code`)).map((s) => s.to)).toEqual([ADMIN, '+8613900000003']);
    expect(f.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['channel.closed', 'alert', 'approval.refused']));
    // The next request, even a correct one, is refused until a new channel opens.
    expect(refusalCode(ask(f, request('11', `${A},5000`), cId, secret))).toBe('CHANNEL_CLOSED');
    const garbage = ask(f, request('12', `${A},1`), cId, secret, 'not-base64!');
    expect(refusalCode(garbage)).toBe('CHANNEL_CLOSED');
    await f.close();
  });

  it('a signature by another key is a forgery too', async () => {
    const f = coldFixture();
    const { cId } = withChannel(f);
    expect(refusalCode(ask(f, request('13', `${A},5000`), cId, new Uint8Array(32).fill(77)))).toBe('VC_CODE_INVALID');
    expect(channelById(f.svc.store, cId)?.status).toBe('closed');
    await f.close();
  });

  it('refuses by policy, naming the rule, without closing the channel; a run of refusals alerts', async () => {
    const f = coldFixture({
      config: baseConfig({
        coins: {
          BTC: {
            network: 'btc-main',
            addressType: 'p2pkh',
            policy: { maxPerTx: '100000', maxPerPeriod: '150000', maxCountPerPeriod: 2, periodHours: 1, allowList: [A, B] },
          },
        },
      }),
    });
    const { cId, secret } = withChannel(f);
    const other = p2pkhAddress(secp.getPublicKey(new Uint8Array(32).fill(3), true), NETWORKS['btc-main']);
    expect(refusalCode(ask(f, request('t1', `${A},100001`), cId, secret))).toBe('POLICY_MAX_PER_TX');
    expect(refusalCode(ask(f, request('t2', `${other},10`), cId, secret))).toBe('POLICY_ALLOW_LIST');
    expect(f.sent.filter((s) => s.to === ADMIN)).toHaveLength(0);
    expect(ask(f, request('t3', `${A},100000`), cId, secret)).toMatchObject({ kind: 'spend' });
    expect(refusalCode(ask(f, request('t4', `${A},60000`), cId, secret))).toBe('POLICY_MAX_PER_PERIOD');
    expect(ask(f, request('t5', `${B},49999`), cId, secret)).toMatchObject({ kind: 'spend' });
    expect(refusalCode(ask(f, request('t6', `${B},1`), cId, secret))).toBe('POLICY_MAX_COUNT');
    expect(refusalCode(ask(f, request('t7', `${B},1`), cId, secret))).toBe('POLICY_MAX_COUNT');
    expect(f.sent.filter((s) => s.to === ADMIN && s.text.includes('refused by policy in a row'))).toHaveLength(0);
    expect(refusalCode(ask(f, request('t8', `${B},1`), cId, secret))).toBe('POLICY_MAX_COUNT');
    expect(f.sent.filter((s) => s.to === ADMIN && s.text.includes('3 requests refused by policy in a row'))).toHaveLength(1);
    expect(channelById(f.svc.store, cId)?.status).toBe('open');
    // The period rolls on the clock.
    f.clock.advanceSync(61 * 60_000);
    expect(ask(f, request('t9', `${B},1`), cId, secret)).toMatchObject({ kind: 'spend' });
    await f.close();
  });

  it('the same user_tx_no again: same request gets the same reply, a different one is a conflict that alerts', async () => {
    const f = coldFixture();
    const { cId, secret } = withChannel(f);
    const r = request('77', `${A},1000`);
    const first = ask(f, r, cId, secret) as ApproveReply;
    f.clock.advanceSync(5000);
    expect(ask(f, r, cId, secret)).toEqual(first);
    expect(refusalCode(ask(f, { ...r, outs: `${A},1001` }, cId, secret))).toBe('USER_TX_CONFLICT');
    expect(f.sent.some((s) => s.to === ADMIN && s.text.includes('user_tx_no 77 was approved before'))).toBe(true);
    expect([...f.svc.store.range(COLD_RECORDS.spends)]).toHaveLength(1);
    await f.close();
  });

  it('channels that are not open are refused with a reason, and nothing closes', async () => {
    const f = coldFixture();
    const keys = new VDeviceKeys();
    const first = keys.next();
    f.svc.store.transact((tx) => handleChannelRequest(f.svc, tx, V_DEVICE, first));
    const pending = parseColdMessage(f.sent.at(-1)!.text);
    if (pending.kind !== 'channel-reply') throw new Error('no QC');
    // Signed by another key: a pending channel stays pending (its own key would confirm it).
    expect(refusalCode(ask(f, request('p1', `${A},1`), pending.cId, keys.next().secret))).toBe('CHANNEL_PENDING');
    expect(refusalCode(ask(f, request('p2', `${A},1`), 424242, first.secret))).toBe('CHANNEL_UNKNOWN');
    f.svc.store.transact((tx) => handleChannelOk(f.svc, tx, V_DEVICE, pending.cId));
    f.clock.advanceSync(27 * 3_600_000);
    expect(refusalCode(ask(f, request('p3', `${A},1`), pending.cId, first.secret))).toBe('CHANNEL_EXPIRED');
    expect(f.sent.filter((s) => s.to === ADMIN)).toHaveLength(0);
    await f.close();
  });

  it('bad fields are refused with the field named and change nothing', async () => {
    const f = coldFixture();
    const { cId, secret } = withChannel(f);
    const bad = ask(f, { coinCode: 'BTC', userTxNo: 'a"b', outs: `${A},1`, isDynamicFee: 0 }, cId, secret, 'x');
    expect(bad).toBeInstanceOf(Refusal);
    expect((bad as Refusal).error).toMatchObject({ code: 'BAD_USER_TX_NO', field: 'user_tx_no' });
    expect(refusalCode(ask(f, request('b2', `${A},0`), cId, secret))).toBe('BAD_AMOUNT');
    expect(refusalCode(ask(f, { coinCode: 'LTC', userTxNo: 'b3', outs: `${A},1`, isDynamicFee: 0 }, cId, secret))).toBe('COIN_NOT_SERVED');
    expect(channelById(f.svc.store, cId)?.status).toBe('open');
    expect(f.svc.store.count(COLD_RECORDS.approvals)).toBe(0);
    await f.close();
  });
});
