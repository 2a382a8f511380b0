/**
 * A stand-in for HSM-Cold in HSM-Hot's tests, built from the real LinkEndpoint and store, that
 * serves the link contract of shared/link/messages.ts faithfully:
 *
 * - `cold.approve`: rebuilds the vc_code request string, refuses with CHANNEL_CLOSED unless the
 *   channel `c_id` is open, checks the vc_code against the channel's V-Device key (a forgery
 *   closes the channel, audits it and reports `channel.closed` and an `alert` to HSM-Hot, then
 *   refuses with VC_CODE_INVALID), applies a per-transaction maximum (POLICY_MAX_PER_TX), and
 *   signs the real approval statement (shared/chaincloud/approval.ts) with its identity key.
 *   Each approval is counted by user_tx_no, in the transaction the RPC layer records the reply.
 * - `cold.pin-xpubs`: pins HSM-Hot's account xpubs, answers with its own.
 * - `cold.status`: the channels and one healthy modem.
 */
import { z } from 'zod';
import type { Clock } from '../../shared/clock.ts';
import { requestHash, signApproval, type ApprovalStatement } from '../../shared/chaincloud/approval.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { accountSpec, exportAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { recoverMessagePublicKey, signMessage } from '../../shared/crypto/message-signature.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { PING_OUTS, parseOuts, requestString, type HotSendRequest } from '../../shared/crypto/request-string.ts';
import { AuditWitness } from '../../shared/link/audit-witness.ts';
import { LINK_COLLECTIONS, LinkEndpoint } from '../../shared/link/endpoint.ts';
import { DEVICE_MESSAGES, type AccountXpub, type ChannelSummary, type ReplyOf, type RequestOf, type DEVICE_LINK_MESSAGES } from '../../shared/link/messages.ts';
import { importPairingFile, type PairingFile } from '../../shared/link/pairing.ts';
import { refuse, type Refusal } from '../../shared/link/rpc.ts';
import type { Port } from '../../shared/port.ts';
import type { RandomSource } from '../../shared/random.ts';
import { defineCollection } from '../../shared/store/collection.ts';
import { createIdentity, identitySigner } from '../../shared/store/identity.ts';
import { DeviceStore, type WriteTx } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { COLD_MNEMONIC, PIN, TEST_KDF } from './wallet-fixture.ts';

type Approve = RequestOf<typeof DEVICE_LINK_MESSAGES, 'cold.approve'>;
type ApproveReply = ReplyOf<typeof DEVICE_LINK_MESSAGES, 'cold.approve'>;
type StatusReply = ReplyOf<typeof DEVICE_LINK_MESSAGES, 'cold.status'>;
type ColdEvent = RequestOf<typeof DEVICE_LINK_MESSAGES, 'hot.event'>;

const channels = defineCollection(
  'standin.channels',
  z.strictObject({ qh: z.string(), status: z.enum(['open', 'closed']), openedAt: z.number(), closedAt: z.number().optional(), reason: z.string().optional() }),
);
const approvals = defineCollection('standin.approvals', z.strictObject({ count: z.number().int(), requestHash: z.string(), approvedAt: z.number() }));
const hotAccounts = defineCollection('standin.hot-accounts', z.array(z.unknown()));

export interface ColdStandInOptions {
  dir: string;
  clock: Clock;
  random: RandomSource;
  openPort(): Port;
  /** Largest total (smallest unit) one request may pay. */
  maxPerTx?: bigint;
}

export class ColdStandIn {
  store!: DeviceStore;
  vault!: Vault;
  endpoint: LinkEndpoint | undefined;
  /** Records HSM-Hot's signed audit heads, as HSM-Cold does. */
  witness!: AuditWitness;
  port: Port | undefined;
  /** When set, approvals are signed with this key instead of the identity key (an impostor). */
  impostorKey: Uint8Array | undefined;
  readonly maxPerTx: bigint;
  readonly accounts: AccountXpub[];

  constructor(private readonly options: ColdStandInOptions) {
    this.maxPerTx = options.maxPerTx ?? 1_000_000n;
    const seed = mnemonicToSeed(COLD_MNEMONIC);
    this.accounts = (['p2pkh', 'p2wpkh'] as const).map((type) => ({
      coin: 'BTC' as const,
      network: 'btc-test' as const,
      type,
      account: 0,
      xpub: exportAccountXpub(seed, accountSpec(NETWORKS['btc-test'], type, 0)),
    }));
    this.open();
  }

  private open(): void {
    this.store = DeviceStore.open(this.options.dir, {
      app: 'test-cold',
      schemaVersion: 1,
      clock: this.options.clock,
      collections: [...LINK_COLLECTIONS, channels, approvals, hotAccounts],
    });
    this.vault = new Vault(this.store, this.options.random);
    this.witness = new AuditWitness({ store: this.store, role: 'cold' });
  }

  /** Creates the PIN vault and identity key; returns the identity (hex). */
  provision(): string {
    return this.store.transact((tx) => {
      this.vault.initialise(PIN, { kdf: TEST_KDF }, tx);
      return createIdentity(tx, this.vault, this.options.random, this.options.clock.now());
    });
  }

  importPairing(file: PairingFile): void {
    importPairingFile(this.store, this.vault, 'cold', file, this.options.clock.now());
  }

  openChannel(cId: number, qh: string): void {
    this.store.transact((tx) => tx.put(channels, cId, { qh: qh.toUpperCase(), status: 'open', openedAt: this.options.clock.now() }));
  }

  channel(cId: number): { status: string; reason?: string } | undefined {
    return this.store.get(channels, cId);
  }

  approvalCount(userTxNo: string): number {
    return this.store.get(approvals, userTxNo)?.count ?? 0;
  }

  get pinnedHotAccounts(): unknown[] | undefined {
    return this.store.get(hotAccounts, 'hot');
  }

  /** Starts the link (the vault must be unlocked). */
  boot(): this {
    if (this.vault.state === 'locked') this.vault.unlock(PIN);
    this.port = this.options.openPort();
    const endpoint = new LinkEndpoint({
      store: this.store,
      vault: this.vault,
      port: this.port,
      clock: this.options.clock,
      random: this.options.random,
      baudRate: 115_200,
      messages: DEVICE_MESSAGES,
    });
    endpoint.rpc.handle<Approve, ApproveReply>('cold.approve', (body, { tx }) => this.approve(body, tx));
    endpoint.rpc.handle<{ accounts: AccountXpub[] }, { accounts: AccountXpub[] }>('cold.pin-xpubs', (body, { tx }) => {
      tx.put(hotAccounts, 'hot', body.accounts);
      return { accounts: this.accounts };
    });
    endpoint.rpc.handle<Record<string, never>, StatusReply>('cold.status', (_body, { tx }) => this.status(tx));
    endpoint.rpc.handle('link.time', () => ({ now: this.options.clock.now() }));
    this.witness.attach(endpoint.rpc, endpoint.peerIdentity, endpoint.session);
    endpoint.start();
    this.endpoint = endpoint;
    return this;
  }

  async shutdown(): Promise<void> {
    this.endpoint?.stop();
    this.endpoint = undefined;
    await this.port?.close();
    this.port = undefined;
    this.vault.lock();
    await this.store.close();
  }

  /** Powers on after `shutdown()`: the store opens again and the link starts with a new epoch. */
  powerOn(): void {
    this.open();
    this.boot();
  }

  /** A power cycle. */
  async reboot(): Promise<void> {
    await this.shutdown();
    this.powerOn();
  }

  /** Reports an event to HSM-Hot (`hot.event`, exactly once). */
  notify(kind: ColdEvent['kind'], details: ColdEvent['details']): void {
    this.endpoint?.rpc.call('hot.event', { kind, at: this.options.clock.now(), details }).catch(() => undefined);
  }

  private approve(body: Approve, tx: WriteTx): ApproveReply | Refusal {
    const request: HotSendRequest = {
      coinCode: body.coinCode,
      userTxNo: body.userTxNo,
      outs: body.outs,
      isDynamicFee: body.isDynamicFee,
      outType: body.outType,
      memo: body.memo,
    };
    let text: string;
    try {
      text = requestString(request);
    } catch (error) {
      return refuse('REQUEST_INVALID', (error as Error).message);
    }
    const channel = tx.get(channels, body.cId);
    if (channel === undefined || channel.status !== 'open') return refuse('CHANNEL_CLOSED', `channel ${body.cId} is not open`, 'cId');
    let signer: string | undefined;
    try {
      signer = bytesToHex(recoverMessagePublicKey(text, body.vcCode)).toUpperCase();
    } catch {
      signer = undefined;
    }
    if (signer !== channel.qh) {
      const now = this.options.clock.now();
      tx.put(channels, body.cId, { ...channel, status: 'closed', closedAt: now, reason: 'forged vc_code' });
      tx.audit('channel.closed', { cId: body.cId, reason: 'forged vc_code', userTxNo: body.userTxNo });
      tx.afterCommit(() => {
        this.notify('channel.closed', { cId: body.cId, reason: 'forged vc_code' });
        this.notify('alert', { code: 'VC_CODE_INVALID', userTxNo: body.userTxNo });
      });
      return refuse('VC_CODE_INVALID', 'the vc_code was not made with the V-Device key of the channel; the channel is closed', 'vcCode');
    }
    let kind: 'spend' | 'ping' = 'spend';
    if (body.outs === PING_OUTS) kind = 'ping';
    else {
      const outs = parseOuts(body.outs, NETWORKS['btc-test']);
      if (outs.kind === 'payments' && outs.total > this.maxPerTx) {
        tx.afterCommit(() => this.notify('approval.refused', { userTxNo: body.userTxNo, code: 'POLICY_MAX_PER_TX' }));
        return refuse('POLICY_MAX_PER_TX', `the request pays ${outs.total}, above the limit of ${this.maxPerTx} per transaction`, 'outs');
      }
    }
    const statement: ApprovalStatement = { requestHash: requestHash(request), userTxNo: body.userTxNo, cId: body.cId, approvedAt: this.options.clock.now(), kind };
    const signature =
      this.impostorKey === undefined
        ? signApproval(statement, (message) => identitySigner(tx, this.vault).signMessage(message))
        : signApproval(statement, (message) => signMessage(message, this.impostorKey as Uint8Array));
    const previous = tx.get(approvals, body.userTxNo)?.count ?? 0;
    tx.put(approvals, body.userTxNo, { count: previous + 1, requestHash: statement.requestHash, approvedAt: statement.approvedAt });
    return { kind, requestHash: statement.requestHash, userTxNo: body.userTxNo, cId: body.cId, approvedAt: statement.approvedAt, signature };
  }

  private status(tx: WriteTx): StatusReply {
    let latest: ChannelSummary | null = null;
    for (const { key, value } of tx.range(channels)) {
      latest = {
        cId: key as number,
        status: value.status === 'open' ? 'open' : 'closed',
        createdAt: value.openedAt,
        openedAt: value.openedAt,
        ...(value.closedAt === undefined ? {} : { closedAt: value.closedAt }),
        ...(value.reason === undefined ? {} : { closeReason: value.reason }),
      };
    }
    return {
      channel: latest,
      pendingChannel: null,
      modems: [{ id: 'A', usable: true, registered: true, operator: 'SimNet A', signal: 21, queued: 0 }],
      timeTrusted: true,
      now: this.options.clock.now(),
    };
  }
}
