/**
 * The V-Device: the released chaincloud-v app (v0.6.3) on an emulated phone, as its source
 * behaves (spec "What the released app does"; SMSServiceBase, SMSServiceImpl, WorkService,
 * AddressService). It talks SMS through a modem on the simulated GSM network, and HTTP to the
 * platform's Open API and the customer's vweb (app-api.ts).
 *
 * SMS
 * - Everything goes to HSM-Cold's first number only; messages are heard from either HSM-Cold
 *   number or the administrator's. In the default (SMS-database) mode a sender must be exactly
 *   `+86` + the number typed into the app; any other sender is dropped, and reported here as a
 *   `sms.ignored` event so a mismatch is visible.
 * - Text after `CC:` is split as Java splits it. From the administrator (`sender contains the
 *   admin number`): START_LOOP, STOP_LOOP, PING, TIME, anything else of one field gets
 *   `sms format is error`. From HSM-Cold: a 5-field address reply or a 6-field QC; anything
 *   else is ignored silently. A text without `CC:` gets `sms format is error`, unless it
 *   contains that phrase. Every SMS goes out on its own (a long text as unrelated parts).
 * - Channels: the daily alarm at 03:00 UTC+8, or the Create button (which also holds the reply
 *   window open), makes a key pair and sends `CC:QH:<QH>:H_ID:<id>:`. A QC is taken inside the
 *   window (23:00-01:59 phone time), or while the last channel is still creating, or while held
 *   open, and only for the last channel's id; then `CC:CHANNEL_OK:<cId>:` goes to the first
 *   number, once, and the app signs with the new channel from then on. No SMS is ever retried.
 *
 * Work loop (WorkService), every `intervalMs`: pull a withdrawal from vweb, decrypt it (a bad
 * one, an invalid output or too low a balance stops the loop and tells the administrator),
 * sign it with the newest OK channel, post it to `/<COIN>/tx/request` unless it was posted
 * already (a failed post is retried by pulling, signing and posting again; HTTP 400 with code 3
 * counts as posted), poll `/<COIN>/tx/<no>` until status 1 or 9 (400/404 mean failure), and
 * report to vweb. The address loop (AddressService) pulls a batch every 5 minutes, asks HSM-Cold
 * for its signature, and reports the check to vweb when the reply comes.
 *
 * Not in the app, each behind an option: `autoStart` presses Start once a channel is OK (a
 * person would); `extensions.secondNumberFailover` sends a request to HSM-Cold's second number
 * when the first did not answer in time (what the two-SIM design could do; the app does not).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { APP_TEXTS, SMS_PREFIX, formatAppTimeReply, formatVDeviceMessage, javaSplit } from '../../../shared/chaincloud/sms.ts';
import { scheduleDaily, type Clock } from '../../../shared/clock.ts';
import { decodeAddress } from '../../../shared/crypto/address.ts';
import { bytesToHex } from '../../../shared/crypto/hash.ts';
import { recoverMessagePublicKey, signMessage } from '../../../shared/crypto/message-signature.ts';
import { isCoin, networkFor, type NetworkKind } from '../../../shared/crypto/networks.ts';
import { formatRequestString } from '../../../shared/crypto/request-string.ts';
import { secp } from '../../../shared/crypto/secp.ts';
import { decryptVtest, type VtestPayload } from '../../../shared/crypto/vtest-cipher.ts';
import type { InboundSms, Modem } from '../../../shared/gsm/modem.ts';
import { MAX_GSM7_SEPTETS } from '../../../shared/gsm/pdu.ts';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import type { RandomSource } from '../../../shared/random.ts';
import { isInDailyWindow, parseTimeOfDay, zonedParts } from '../../../shared/time-zone.ts';
import { AppApi, type AppEndpoints, type AppTxStatus } from './app-api.ts';
import { AppRecords, type AppChannel } from './app-records.ts';

/** The app's daily channel alarm: 03:00 in UTC+8, whatever the phone's zone. */
export const APP_CHANNEL_ALARM = { at: '03:00', timeZone: 'Etc/GMT-8' } as const;
/** The app's reply window, in the phone's zone: 23:00:00-01:59:59. */
export const APP_REPLY_WINDOW = { from: '23:00', to: '02:00' } as const;
/** The app's home numbering plan: numbers typed without a country code are Chinese. */
const HOME_PREFIX = '+86';

export interface VDeviceSettings {
  /** HSM-Cold's numbers and the administrator's, as typed into the app (without +86). */
  hsmPhone1: string;
  hsmPhone2: string;
  adminPhone: string;
  /** How the app hears SMS: `database` (its default: sender = +86 + number) or `broadcast` (sender contains it). */
  smsObserver?: 'database' | 'broadcast';
  /** The transfer password; empty means vtest_info is plaintext JSON. */
  vwebPassword: string;
  /** Balance threshold of the app's balance check (0: no check, the app's default). */
  balanceThreshold?: bigint;
}

export interface VDeviceOptions {
  clock: Clock;
  random: RandomSource;
  modem: Modem;
  settings: VDeviceSettings;
  /** Which network's addresses the app's validator accepts. */
  network: NetworkKind;
  api: AppEndpoints;
  /** The phone's time zone: its TIME answer and the reply window. */
  timeZone: string;
  /** The app's loop interval (its setting, 6 s by default), and whether a person starts the loop. */
  loop: { intervalMs?: number; autoStart: boolean };
  /** How often the address loop pulls a batch (the app: 5 min). */
  addressLoopMs?: number;
  /** The app's records (channels with their private keys, batches), mode 0600. */
  stateFile?: string;
  /** Behaviour the app does not have; everything off by default. */
  extensions?: { secondNumberFailover?: { afterMs: number } };
  log?: Logger;
}

export type VDeviceEvent =
  | { type: 'channel.requested'; hId: number; byHand: boolean }
  | { type: 'channel.ok'; hId: number; cId: number }
  | { type: 'channel.refused'; hId: number; reason: string }
  | { type: 'batch.requested'; batchNo: number; addressType: 'hot' | 'cold'; coin: string }
  | { type: 'batch.checked'; batchNo: number; addressType: 'hot' | 'cold'; ok: boolean }
  | { type: 'withdrawal.posted'; vtestId: string; outcome: 'accepted' | 'duplicate' | 'failed'; detail?: string }
  | { type: 'withdrawal.done'; vtestId: string; txHash: string | null }
  | { type: 'loop'; running: boolean; reason?: string }
  | { type: 'ping'; answer: string }
  | { type: 'admin'; command: string }
  | { type: 'sms.in'; from: string; text: string }
  | { type: 'sms.out'; to: string; text: string }
  | { type: 'sms.failed'; to: string; reason: string }
  | { type: 'sms.ignored'; from: string; reason: string };

export type VDeviceChannel = AppChannel;

type Iteration = 'next' | 'stop';

export class VDevice {
  private readonly o: VDeviceOptions;
  private readonly log: Logger;
  private readonly records: AppRecords;
  private readonly api: AppApi;
  private readonly listeners = new Set<(e: VDeviceEvent) => void>();
  private readonly stops: Array<() => void> = [];
  private readonly abort = new AbortController();
  private stopped = false;
  /** WorkService flags. */
  private loopTx = false;
  private loopTxStatus = false;
  private pingLoop = false;
  /** SMSServiceBase's isKeepChannelOpen (the Create button). */
  private keepChannelOpen = false;
  /** The last balance the app read (its per-coin preference). */
  private readonly knownBalance = new Map<string, bigint>();
  /** What is waiting for an answer, for the failover extension. */
  private readonly answered = new Set<string>();

  constructor(options: VDeviceOptions) {
    this.o = options;
    this.log = options.log ?? silentLogger;
    this.records = new AppRecords(options.stateFile);
    this.api = new AppApi(options.api);
  }

  onEvent(listener: (e: VDeviceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The app starts: its SMS service (with the daily alarm) and its address loop. */
  start(): void {
    this.o.modem.setInboundHandler((sms) => this.onSms(sms));
    this.stops.push(scheduleDaily(this.o.clock, APP_CHANNEL_ALARM, () => void this.createChannel({ byHand: false })));
    void this.addressLoop();
    if (this.o.loop.autoStart) this.startLoop();
  }

  stop(): void {
    this.stopped = true;
    this.stopLoop();
    this.abort.abort();
    for (const stop of this.stops.splice(0)) stop();
    this.o.modem.setInboundHandler(undefined);
  }

  get channels(): readonly VDeviceChannel[] {
    return this.records.channels;
  }

  /** The channel the app signs with: the newest OK one. */
  currentChannel(): VDeviceChannel | undefined {
    return this.records.okChannel();
  }

  get loopRunning(): boolean {
    return this.loopTx;
  }

  /**
   * A new channel: the alarm's, or the Create button's (`byHand`, which also holds the reply
   * window open until a channel is confirmed). The QH goes to HSM-Cold's first number.
   */
  async createChannel(options: { byHand: boolean }): Promise<VDeviceChannel> {
    if (options.byHand) this.keepChannelOpen = true;
    let secret = this.o.random.bytes(32);
    while (!secp.utils.isValidSecretKey(secret)) secret = this.o.random.bytes(32);
    const channel = this.records.createChannel(bytesToHex(secp.getPublicKey(secret, true)).toUpperCase(), bytesToHex(secret).toUpperCase(), this.o.clock.now());
    secret.fill(0);
    this.emit({ type: 'channel.requested', hId: channel.channelId, byHand: options.byHand });
    await this.sendToHsm(formatVDeviceMessage({ kind: 'channel-request', qh: channel.qh, hId: channel.channelId }), `QC:${channel.channelId}`);
    return channel;
  }

  /** WorkBinder.startLoop: only with an OK channel, and once. */
  startLoop(): boolean {
    if (this.stopped || this.loopTx) return this.loopTx;
    if (this.records.okChannel() === undefined) {
      // The app shows "channel is not established..."; a person presses Start later (autoStart).
      return false;
    }
    void this.workLoop();
    return true;
  }

  stopLoop(): void {
    if (this.loopTx) this.emit({ type: 'loop', running: false, reason: 'stopped' });
    this.loopTx = false;
    this.loopTxStatus = false;
    this.pingLoop = false;
  }

  // ---------------------------------------------------------------------------------------
  // SMS

  private emit(event: VDeviceEvent): void {
    for (const l of this.listeners) l(event);
  }

  /**
   * SMSUtil.sendSMS: to the number as the app has it (typed without +86, or a sender's), each
   * part a separate SMS, no concatenation, no retry.
   */
  private async send(to: string, text: string): Promise<void> {
    for (let at = 0; at < text.length || at === 0; at += MAX_GSM7_SEPTETS) {
      const part = text.slice(at, at + MAX_GSM7_SEPTETS);
      this.emit({ type: 'sms.out', to, text: part });
      try {
        await this.o.modem.sendSms(to, part, { maxParts: 1 });
      } catch (error) {
        this.emit({ type: 'sms.failed', to, reason: (error as Error).message });
      }
    }
  }

  private tellAdmin(text: string): void {
    if (this.o.settings.adminPhone !== '') void this.send(this.o.settings.adminPhone, text);
  }

  /** To HSM-Cold's first number; with the failover extension, to the second if `key` is not answered in time. */
  private async sendToHsm(text: string, key: string): Promise<void> {
    this.answered.delete(key);
    await this.send(this.o.settings.hsmPhone1, text);
    const failover = this.o.extensions?.secondNumberFailover;
    if (failover === undefined) return;
    void this.o.clock.sleep(failover.afterMs, this.abort.signal).then(
      () => {
        if (this.answered.has(key) || this.stopped) return;
        this.log.warn({ key }, 'no answer from HSM-Cold; the failover extension tries its second number');
        void this.send(this.o.settings.hsmPhone2, text);
      },
      () => undefined,
    );
  }

  /** Whether the app hears `from` at all (its observer's query, or its receiver's check). */
  private heard(from: string): boolean {
    const { hsmPhone1, hsmPhone2, adminPhone, smsObserver } = this.o.settings;
    const configured = [hsmPhone1, hsmPhone2, adminPhone].filter((n) => n !== '');
    return smsObserver === 'broadcast' ? configured.some((n) => from.includes(n)) : configured.some((n) => from === `${HOME_PREFIX}${n}`);
  }

  private onSms(sms: InboundSms): void {
    if (sms.kind !== 'deliver') return;
    const from = sms.sms.originator.number;
    const text = sms.sms.userData.text;
    this.emit({ type: 'sms.in', from, text });
    if (!this.heard(from)) {
      this.emit({ type: 'sms.ignored', from, reason: `the sender is not ${HOME_PREFIX} + a number set in the app` });
      return;
    }
    if (text.trim().length === 0) return;
    if (text.startsWith(SMS_PREFIX)) {
      const body = text.slice(SMS_PREFIX.length);
      if (this.o.settings.adminPhone !== '' && from.includes(this.o.settings.adminPhone)) void this.onAdmin(from, body);
      else this.onHsm(from, body);
      return;
    }
    if (!text.toLowerCase().includes(APP_TEXTS.formatError)) void this.send(from, APP_TEXTS.formatError);
  }

  private async onAdmin(from: string, body: string): Promise<void> {
    const fields = javaSplit(body, ':');
    if (fields.length !== 1) return;
    const command = fields[0] as string;
    this.emit({ type: 'admin', command });
    switch (command) {
      case 'START_LOOP':
        this.startLoop();
        return this.send(from, APP_TEXTS.loopStarted);
      case 'STOP_LOOP':
        this.stopLoop();
        return this.send(from, APP_TEXTS.loopStopped);
      case 'PING':
        return this.ping(from);
      case 'TIME': {
        const p = zonedParts(this.o.clock.now(), this.o.timeZone);
        const pad = (n: number): string => String(n).padStart(2, '0');
        return this.send(from, formatAppTimeReply(`${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`));
      }
      default:
        return this.send(from, APP_TEXTS.formatError);
    }
  }

  /** SMSServiceImpl.handleSMS: an address reply, a QC, or nothing. */
  private onHsm(from: string, body: string): void {
    const fields = javaSplit(body, ':');
    if (fields.length === 5 && (fields[0] === 'HOT_ADDRESSES' || fields[0] === 'COLD_ADDRESSES')) {
      const [, index = '', sign = '', cId = '', coin = ''] = fields;
      const batchNo = javaParseInt(index);
      const channelId = javaParseInt(cId);
      if (batchNo === undefined || channelId === undefined) return this.tellAdmin(APP_TEXTS.addressFormatError);
      void this.checkAddress(batchNo, channelId, sign, fields[0] === 'HOT_ADDRESSES' ? 1 : 2, coin);
      return;
    }
    if (fields.length === 6 && fields[0] === 'QC' && fields[2] === 'C_ID' && fields[4] === 'H_ID') {
      const [, qc = '', , cId = '', , hId = ''] = fields;
      if (!this.canHandleChannel()) {
        this.emit({ type: 'channel.refused', hId: javaParseInt(hId) ?? -1, reason: 'time is not ok' });
        return this.tellAdmin(APP_TEXTS.channelTimeNotOk);
      }
      const hIdInt = javaParseInt(hId);
      const cIdInt = javaParseInt(cId);
      if (hIdInt === undefined || cIdInt === undefined) return this.tellAdmin(APP_TEXTS.channelFormatError);
      this.updateChannel(qc, hIdInt, cIdInt);
      return;
    }
    this.emit({ type: 'sms.ignored', from, reason: `a CC: message the app does not know (${fields[0] ?? ''}, ${fields.length} fields)` });
  }

  private canHandleChannel(): boolean {
    if (this.keepChannelOpen) return true;
    const window = { from: parseTimeOfDay(APP_REPLY_WINDOW.from), to: parseTimeOfDay(APP_REPLY_WINDOW.to) };
    if (isInDailyWindow(this.o.clock.now(), window, this.o.timeZone)) return true;
    const last = this.records.lastChannel();
    return last === undefined || last.status === 'creating';
  }

  private updateChannel(qc: string, hId: number, cId: number): void {
    const channel = this.records.channelById(hId);
    if (channel === undefined || this.records.lastChannel()?.channelId !== hId) {
      this.emit({ type: 'channel.refused', hId, reason: 'channel is not exist' });
      return this.tellAdmin(APP_TEXTS.channelNotExist);
    }
    this.records.confirmChannel(hId, qc, cId, this.o.clock.now());
    this.answered.add(`QC:${hId}`);
    this.emit({ type: 'channel.ok', hId, cId });
    void this.send(this.o.settings.hsmPhone1, formatVDeviceMessage({ kind: 'channel-ok', cId }));
    this.keepChannelOpen = false;
    if (this.o.loop.autoStart) this.startLoop();
  }

  /** SMSServiceImpl.checkAddress: the batch's content string, the key recovered, compared with QC of channel cId. */
  private async checkAddress(batchNo: number, cId: number, sign: string, type: 1 | 2, coin: string): Promise<void> {
    const addressType = type === 1 ? 'hot' : 'cold';
    this.answered.add(`BATCH:${type}:${coin}:${batchNo}`);
    const batch = this.records.batch(batchNo, type, coin);
    const channel = this.records.channelByCId(cId);
    if (batch === undefined || channel?.qc === undefined) {
      this.emit({ type: 'sms.ignored', from: 'HSM-Cold', reason: `no ${batch === undefined ? `batch ${batchNo}` : `channel ${cId}`} for the address reply (the app would stop on it)` });
      return;
    }
    let publicKey: string;
    try {
      publicKey = bytesToHex(recoverMessagePublicKey(batch.addresses.map((a, i) => `${i},${a}:`).join(''), sign)).toUpperCase();
    } catch {
      return this.tellAdmin(APP_TEXTS.addressSignException);
    }
    const ok = publicKey === channel.qc;
    this.records.setBatchStatus(batch, ok ? 'ok' : 'error');
    this.emit({ type: 'batch.checked', batchNo, addressType, ok });
    await this.api.postBatchStatus(batchNo, ok ? 2 : 3, type, coin);
  }

  // ---------------------------------------------------------------------------------------
  // AddressService

  private async addressLoop(): Promise<void> {
    while (!this.stopped) {
      if (!(await this.sleep(this.o.addressLoopMs ?? 5 * 60_000))) return;
      const pulled = await this.api.nextBatch();
      if (!pulled.ok || pulled.body === null) continue;
      const batchNo = javaParseInt(String(pulled.body.batch_no ?? ''));
      const type = pulled.body.address_type;
      if (batchNo === undefined || (type !== 1 && type !== 2)) continue;
      const coin = pulled.body.coin_type ?? 'BTC';
      const addresses = [...(pulled.body.address_list ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((a) => a.address ?? '');
      this.records.saveBatch({ batchNo, type, coin, addresses, status: 'null' });
      if (this.records.okChannel() === undefined) continue;
      const addressType = type === 1 ? 'hot' : 'cold';
      this.emit({ type: 'batch.requested', batchNo, addressType, coin });
      await this.sendToHsm(formatVDeviceMessage({ kind: 'verify-addresses', addressType, batchNo, coin: coin as never }), `BATCH:${type}:${coin}:${batchNo}`);
    }
  }

  // ---------------------------------------------------------------------------------------
  // WorkService

  /** Waits the app's interval; false once the app stopped. */
  private async sleep(ms = this.o.loop.intervalMs ?? 6_000): Promise<boolean> {
    try {
      await this.o.clock.sleep(ms, this.abort.signal);
    } catch {
      return false;
    }
    return !this.stopped;
  }

  private async workLoop(): Promise<void> {
    this.loopTx = true;
    this.loopTxStatus = true;
    this.emit({ type: 'loop', running: true });
    try {
      do {
        const next = await this.workOnce();
        if (next === 'stop') break;
      } while (this.loopTx && (await this.sleep()));
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'the V-Device work loop stopped on an error');
    }
    if (this.loopTx) this.emit({ type: 'loop', running: false, reason: 'the loop ended' });
    this.loopTx = false;
  }

  private stopWith(reason: string, adminText?: string): Iteration {
    if (adminText !== undefined) this.tellAdmin(adminText);
    this.emit({ type: 'loop', running: false, reason });
    this.loopTx = false;
    return 'stop';
  }

  /** One pass of startPullTxFromVWeb's loop body. */
  private async workOnce(): Promise<Iteration> {
    const pulled = await this.api.nextVtest();
    if (!pulled.ok || pulled.body === null || pulled.body.vtest_info === undefined || pulled.body.vtest_info === null) return 'next';
    const vtestId = String(pulled.body.vtest_id);
    let info: VtestPayload;
    try {
      info = decryptVtest(pulled.body.vtest_info, this.o.settings.vwebPassword);
    } catch (error) {
      return this.stopWith(`decrypt error: ${(error as Error).message}`, APP_TEXTS.decryptError);
    }
    const coin = info.coin_code ?? 'BTC';
    const outType = info.out_type ?? 0;
    const amount = outType === 8 || outType === 9 ? 0n : this.outsAmount(info.outs, coin);
    if (amount === undefined) return this.stopWith('tx out invalid', APP_TEXTS.txOutInvalid);
    if (!(await this.balanceEnough(coin, amount))) return this.stopWith('balance is not enough');
    const channel = this.records.okChannel();
    if (channel?.cId === undefined) return this.stopWith('channel is not established');
    const vcCode = this.sign(channel, { coinCode: coin, userTxNo: vtestId, outs: info.outs, isDynamicFee: info.dynamic, outType, memo: info.memo });

    if (this.records.lastUserTxNo !== vtestId) {
      const posted = await this.api.postTx({
        coinCode: coin,
        userTxNo: vtestId,
        outs: info.outs,
        vcCode,
        isDynamicFee: info.dynamic,
        onlyConfirmed: info.confirmed ?? 0,
        cId: channel.cId,
        outType,
        memo: info.memo ?? null,
        nonce: info.nonce ?? null,
        gasPrice: info.gas_price ?? null,
      });
      if (posted.ok && posted.body?.result === true) {
        this.records.lastUserTxNo = vtestId;
        this.emit({ type: 'withdrawal.posted', vtestId, outcome: 'accepted' });
      } else if (!posted.ok && posted.error.kind === 'http' && posted.error.status === 400 && posted.error.apiError?.code === 3) {
        this.emit({ type: 'withdrawal.posted', vtestId, outcome: 'duplicate' });
      } else {
        // "post tx to chaincloud is error": pull, sign and post again after the interval.
        this.emit({ type: 'withdrawal.posted', vtestId, outcome: 'failed', detail: posted.ok ? 'result false' : describe(posted.error) });
        return 'next';
      }
    }

    let status: AppTxStatus | undefined;
    while (this.loopTxStatus) {
      status = await this.txStatus(coin, vtestId);
      if (status?.hot_wallet_tx_status === 9 || status?.hot_wallet_tx_status === 1) break;
      if (!(await this.sleep())) return 'stop';
    }
    if (!this.loopTxStatus || status === undefined) return this.stopWith('stopped while waiting for the status');
    const userTxNo = status.send_request?.user_tx_no;
    if (userTxNo === undefined) return this.stopWith('the status has no send_request.user_tx_no (the app would crash here)');
    const txHash = status.hot_wallet_tx_status === 1 ? (status.tx_hash ?? null) : null;
    const reported = await this.api.postVtestStatus(userTxNo, txHash);
    if (reported.ok && reported.body?.result === true) {
      this.records.lastUserTxNo = null;
      this.emit({ type: 'withdrawal.done', vtestId, txHash });
    }
    return 'next';
  }

  /** getTxStatusFromChainCloud: 400 and 404 are a failure; no answer is "not yet". */
  private async txStatus(coin: string | undefined, userTxNo: string): Promise<AppTxStatus | undefined> {
    const polled = await this.api.txStatus(coin, userTxNo);
    if (polled.ok) return polled.body ?? undefined;
    if (polled.error.kind === 'http' && (polled.error.status === 400 || polled.error.status === 404)) {
      return { hot_wallet_tx_status: 9, tx_hash: null, send_request: { user_tx_no: userTxNo } };
    }
    return undefined;
  }

  /** isAddressValid: every output `address,value` with a valid address and a value ≥ 0; the sum, or undefined. */
  private outsAmount(outs: string, coin: string): bigint | undefined {
    if (outs.length === 0 || !isCoin(coin)) return undefined;
    let amount = 0n;
    for (const out of javaSplit(outs, ';')) {
      const parts = javaSplit(out, ',');
      if (parts.length !== 2 || !/^[+-]?[0-9]+$/.test(parts[1] as string)) return undefined;
      const value = BigInt(parts[1] as string);
      if (value < 0n) return undefined;
      try {
        decodeAddress(parts[0] as string, networkFor(coin, this.o.network));
      } catch {
        return undefined;
      }
      amount += value;
    }
    return amount;
  }

  /** isBalanceEnough: only with a threshold set (none by default). */
  private async balanceEnough(coin: string, amount: bigint): Promise<boolean> {
    const threshold = this.o.settings.balanceThreshold ?? 0n;
    if (threshold <= 0n || (this.knownBalance.get(coin) ?? 0n) - threshold > amount) return true;
    const user = await this.api.currentUser(coin);
    if (!user.ok || typeof user.body?.balance !== 'number') return true;
    const balance = BigInt(user.body.balance);
    if (balance - threshold > amount) return true;
    this.knownBalance.set(coin, balance);
    if (amount > balance) {
      this.tellAdmin(APP_TEXTS.balanceNotEnough);
      return false;
    }
    this.tellAdmin(APP_TEXTS.balanceLow);
    return true;
  }

  private sign(channel: AppChannel, request: { coinCode: string; userTxNo: string; outs: string; isDynamicFee: 0 | 1; outType: number; memo: string | undefined }): string {
    return signMessage(formatRequestString(request), Buffer.from(channel.dh, 'hex'));
  }

  /** vcPing: an end-to-end request with outs PING on the coin-less paths; the answer goes to `to`. */
  private async ping(to: string): Promise<void> {
    const answer = async (text: string): Promise<void> => {
      this.emit({ type: 'ping', answer: text });
      await this.send(to, text);
    };
    const channel = this.records.okChannel();
    if (channel?.cId === undefined) return answer(APP_TEXTS.noChannel);
    const userTxNo = randomUUID();
    const vcCode = this.sign(channel, { coinCode: 'BTC', userTxNo, outs: 'PING', isDynamicFee: 1, outType: 0, memo: undefined });
    const posted = await this.api.postPing({ userTxNo, vcCode, cId: channel.cId });
    if (!posted.ok || posted.body?.result !== true) return answer(APP_TEXTS.pingPostError);
    this.pingLoop = true;
    while (this.pingLoop) {
      const polled = await this.api.txStatus(undefined, userTxNo);
      if (!polled.ok) return answer(APP_TEXTS.pingStatusError);
      if (polled.body === null) return;
      const status = polled.body.hot_wallet_tx_status;
      if (status === 9) return answer(APP_TEXTS.pingFailed);
      if (status === 1) return answer(APP_TEXTS.pingOk);
      if (!(await this.sleep())) return;
    }
  }
}

/** Java's Integer.valueOf for a decimal string: an optional sign, digits, 32 bits. */
function javaParseInt(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= -(2 ** 31) && value <= 2 ** 31 - 1 ? value : undefined;
}

function describe(error: { kind: 'network'; message: string } | { kind: 'http'; status: number; apiError: { code?: number; message?: string } | undefined }): string {
  return error.kind === 'network' ? `no answer: ${error.message}` : `HTTP ${error.status}${error.apiError?.message === undefined ? '' : `: ${error.apiError.message}`}`;
}
