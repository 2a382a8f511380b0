/**
 * The V-Device: the chaincloud-v app's behaviour on an emulated phone (spec §"SMS messages",
 * §"The V-Device work loop"). It talks SMS through a modem on the simulated GSM network, and
 * HTTP to the platform's Open API and the customer's vweb.
 *
 * - Channel: every day at its configured hour it makes a new key pair and sends
 *   `CC:QH:<QH>:H_ID:<hId>:` to HSM-Cold's first number; it accepts a `CC:QC:...` reply (6
 *   fields) from either HSM-Cold number inside its reply window (or while the channel is still
 *   being created), answers `CC:CHANNEL_OK:<cId>:` to the number the reply came from, and from
 *   then on signs with that channel.
 * - Fail-safe: a request to HSM-Cold (channel, batch check) that has no answer after
 *   `failoverMs` is sent again to HSM-Cold's next number (the other SIM, on the other carrier).
 *   The released app only uses the first number; this is what its two-SIM design is for.
 * - Batch checks: a batch vweb asks about is requested by SMS (`CC:VERIFY_*_ADDRESSES`), the
 *   reply's signature is checked against the channel's QC over the batch content string, and
 *   the verdict is posted back to vweb.
 * - Work loop: pull a withdrawal from vweb, decrypt it, validate the addresses, check the
 *   balance, sign the request string (vc_code), post it to the platform, poll its status,
 *   report the transaction hash (or the failure) to vweb.
 * - Administrator commands by SMS: START_LOOP, STOP_LOOP, PING (an end-to-end `outs = PING`
 *   request), TIME (answered `CC:V:<datetime>`). A malformed `CC:` message gets
 *   `sms format is error`.
 *
 * The app's records (channels, last hId) persist in a JSON file, as the phone's database would.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { APP_FORMAT_ERROR_REPLY, formatAppTimeReply, formatVDeviceMessage, parseColdMessage } from '../../../shared/chaincloud/sms.ts';
import { scheduleDaily, type Clock } from '../../../shared/clock.ts';
import { batchContentString } from '../../../shared/crypto/batch-content.ts';
import { bytesToHex } from '../../../shared/crypto/hash.ts';
import { recoverMessagePublicKey, signMessage } from '../../../shared/crypto/message-signature.ts';
import { networkFor, type Coin, type NetworkKind } from '../../../shared/crypto/networks.ts';
import { parseOuts, requestString, type HotSendRequest } from '../../../shared/crypto/request-string.ts';
import { secp } from '../../../shared/crypto/secp.ts';
import { decryptVtest } from '../../../shared/crypto/vtest-cipher.ts';
import type { InboundSms, Modem } from '../../../shared/gsm/modem.ts';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import type { RandomSource } from '../../../shared/random.ts';
import { isInDailyWindow, parseTimeOfDay, zonedParts } from '../../../shared/time-zone.ts';

export interface VDeviceChannel {
  hId: number;
  qh: string;
  /** The app's channel private key (hex); it never leaves the phone. */
  dh: string;
  status: 'creating' | 'ok';
  qc?: string;
  cId?: number;
  createdAt: number;
}

export interface VDeviceOptions {
  clock: Clock;
  random: RandomSource;
  modem: Modem;
  /** HSM-Cold's numbers; requests go to the first, replies are accepted from any. */
  coldNumbers: readonly string[];
  adminNumbers: readonly string[];
  coin: Coin;
  network: NetworkKind;
  platform: { baseUrl: string; token: string };
  vweb: { baseUrl: string; password: string };
  /** Daily channel hour and the window in which replies are accepted (the app's 23:00-01:59). */
  channel: { at: string; timeZone: string; replyFrom: string; replyTo: string };
  loop: { pollMs: number; txPollMs: number; txTimeoutMs: number; balanceThreshold: bigint; autoStart: boolean };
  /** Where the app's records persist (a JSON file). */
  stateFile?: string;
  /** Wait for an answer from one HSM-Cold number before trying the next. Default 3 min. */
  failoverMs?: number;
  log?: Logger;
}

export type VDeviceEvent =
  | { type: 'channel.requested'; hId: number }
  | { type: 'channel.ok'; hId: number; cId: number }
  | { type: 'batch.checked'; batchNo: number; addressType: 'hot' | 'cold'; ok: boolean }
  | { type: 'withdrawal.done'; vtestId: number; txHash: string | null; reason?: string }
  | { type: 'ping'; ok: boolean }
  | { type: 'admin'; command: string }
  | { type: 'sms.in'; from: string; text: string }
  | { type: 'sms.out'; to: string; text: string };

interface Persisted {
  lastHId: number;
  channels: VDeviceChannel[];
  loopRunning: boolean;
}

interface PendingBatch {
  batchNo: number;
  addressType: 'hot' | 'cold';
  resolve: (reply: { signature: string; cId: number }) => void;
}

export class VDevice {
  private readonly o: VDeviceOptions;
  private readonly log: Logger;
  private state: Persisted;
  private readonly listeners = new Set<(e: VDeviceEvent) => void>();
  private cancelDaily: (() => void) | undefined;
  private loopTimer: ReturnType<Clock['setTimeout']> | undefined;
  private looping = false;
  private busy = false;
  private stopped = false;
  private readonly pendingBatches: PendingBatch[] = [];

  constructor(options: VDeviceOptions) {
    this.o = options;
    this.log = options.log ?? silentLogger;
    this.state = this.load();
  }

  onEvent(listener: (e: VDeviceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.o.modem.setInboundHandler((sms) => this.onSms(sms));
    this.cancelDaily = scheduleDaily(this.o.clock, { at: this.o.channel.at, timeZone: this.o.channel.timeZone }, () => void this.requestChannel());
    if (this.o.loop.autoStart || this.state.loopRunning) this.startLoop();
  }

  stop(): void {
    this.stopped = true;
    this.cancelDaily?.();
    this.stopLoop();
    this.o.modem.setInboundHandler(undefined);
  }

  get channels(): readonly VDeviceChannel[] {
    return this.state.channels;
  }

  /** The channel it signs with: the newest OK one. */
  currentChannel(): VDeviceChannel | undefined {
    return [...this.state.channels].reverse().find((c) => c.status === 'ok');
  }

  get loopRunning(): boolean {
    return this.looping;
  }

  /** Starts a new channel now (the daily schedule does the same). */
  async requestChannel(): Promise<VDeviceChannel> {
    let secret = this.o.random.bytes(32);
    while (!secp.utils.isValidSecretKey(secret)) secret = this.o.random.bytes(32);
    const channel: VDeviceChannel = {
      hId: ++this.state.lastHId,
      qh: bytesToHex(secp.getPublicKey(secret, true)).toUpperCase(),
      dh: bytesToHex(secret),
      status: 'creating',
      createdAt: this.o.clock.now(),
    };
    secret.fill(0);
    this.state.channels.push(channel);
    this.state.channels = this.state.channels.slice(-20);
    this.save();
    this.emit({ type: 'channel.requested', hId: channel.hId });
    await this.sendToCold(formatVDeviceMessage({ kind: 'channel-request', qh: channel.qh, hId: channel.hId }), () => channel.status !== 'creating');
    return channel;
  }

  startLoop(): void {
    if (this.looping) return;
    this.looping = true;
    this.state.loopRunning = true;
    this.save();
    this.scheduleLoop(0);
  }

  stopLoop(): void {
    this.looping = false;
    this.state.loopRunning = false;
    this.save();
    this.o.clock.clearTimeout(this.loopTimer);
  }

  /**
   * One pass of the work loop: a batch check if vweb has one, then a withdrawal if it has one.
   * Without an open channel there is nothing to check or sign with: vweb's work waits.
   */
  async workOnce(): Promise<void> {
    if (this.busy || this.currentChannel() === undefined) return;
    this.busy = true;
    try {
      await this.checkNextBatch();
      await this.processNextWithdrawal();
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'V-Device work loop step failed');
    } finally {
      this.busy = false;
    }
  }

  /** The end-to-end health check: a signed request with `outs = PING`. */
  async ping(): Promise<boolean> {
    const userTxNo = randomUUID();
    const result = await this.submit({ coinCode: this.o.coin, userTxNo, outs: 'PING', isDynamicFee: 0 });
    const ok = result.status === 1;
    this.emit({ type: 'ping', ok });
    return ok;
  }

  // ---------------------------------------------------------------------------------------

  private scheduleLoop(delay: number): void {
    if (!this.looping || this.stopped) return;
    this.loopTimer = this.o.clock.setTimeout(() => {
      void this.workOnce().finally(() => this.scheduleLoop(this.o.loop.pollMs));
    }, delay);
  }

  private emit(event: VDeviceEvent): void {
    for (const l of this.listeners) l(event);
  }

  private async send(to: string, text: string): Promise<void> {
    this.emit({ type: 'sms.out', to, text });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.modem.sendSms(to, text);
        return;
      } catch (error) {
        if (attempt >= 5 || this.stopped) throw error;
        await this.o.clock.sleep(5_000 * attempt);
      }
    }
  }

  /**
   * Sends `text` to HSM-Cold's first number and, while `answered()` stays false for
   * `failoverMs`, to each next number in turn (a carrier outage must not cut the channel).
   */
  private async sendToCold(text: string, answered: () => boolean): Promise<void> {
    const numbers = this.o.coldNumbers;
    await this.send(numbers[0] as string, text);
    void (async () => {
      for (const next of numbers.slice(1)) {
        await this.o.clock.sleep(this.o.failoverMs ?? 180_000);
        if (answered() || this.stopped) return;
        this.log.warn({ to: next }, 'no answer from HSM-Cold; trying its next number');
        await this.send(next, text);
      }
    })().catch(() => undefined);
  }

  private onSms(sms: InboundSms): void {
    // The app's messages are single SMS; parts of a concatenated message are not for it.
    if (sms.kind !== 'deliver' || sms.sms.userData.concat !== undefined) return;
    const from = sms.sms.originator.number;
    const text = sms.sms.userData.text;
    this.emit({ type: 'sms.in', from, text });
    if (this.o.adminNumbers.includes(from) && !text.startsWith('CC:')) {
      void this.onAdmin(from, text.trim());
      return;
    }
    if (!this.o.coldNumbers.includes(from)) return;
    let message;
    try {
      message = parseColdMessage(text);
    } catch {
      if (text.startsWith('CC:')) void this.send(from, APP_FORMAT_ERROR_REPLY).catch(() => undefined);
      return;
    }
    if (message.kind === 'channel-reply') {
      const channel = this.state.channels.find((c) => c.hId === message.hId && c.status === 'creating');
      if (channel === undefined) return;
      const window = { from: parseTimeOfDay(this.o.channel.replyFrom), to: parseTimeOfDay(this.o.channel.replyTo) };
      const latest = this.state.channels[this.state.channels.length - 1];
      if (!isInDailyWindow(this.o.clock.now(), window, this.o.channel.timeZone) && latest !== channel) return;
      channel.qc = message.qc;
      channel.cId = message.cId;
      channel.status = 'ok';
      this.save();
      this.emit({ type: 'channel.ok', hId: channel.hId, cId: message.cId });
      void this.send(from, formatVDeviceMessage({ kind: 'channel-ok', cId: message.cId })).catch(() => undefined);
      return;
    }
    const pending = this.pendingBatches.findIndex((p) => p.batchNo === message.batchNo && p.addressType === message.addressType);
    if (pending >= 0) {
      const [p] = this.pendingBatches.splice(pending, 1);
      p?.resolve({ signature: message.signature, cId: message.cId });
    }
  }

  private async onAdmin(from: string, command: string): Promise<void> {
    this.emit({ type: 'admin', command });
    switch (command) {
      case 'START_LOOP':
        this.startLoop();
        return;
      case 'STOP_LOOP':
        this.stopLoop();
        return;
      case 'TIME': {
        const p = zonedParts(this.o.clock.now(), this.o.channel.timeZone);
        const pad = (n: number): string => String(n).padStart(2, '0');
        await this.send(from, formatAppTimeReply(`${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`));
        return;
      }
      case 'PING': {
        const ok = await this.ping().catch(() => false);
        await this.send(from, `CC:V:PING:${ok ? 'OK' : 'FAILED'}`);
        return;
      }
      default:
        await this.send(from, APP_FORMAT_ERROR_REPLY);
    }
  }

  private async http<T>(base: string, method: 'GET' | 'POST', path: string, form?: Record<string, string>, token?: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token === undefined ? {} : { token }), ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T };
  }

  private async checkNextBatch(): Promise<void> {
    const { body } = await this.http<{ batch_no: number; address_list: Array<{ index: number; address: string }>; address_type: number } | null>(this.o.vweb.baseUrl, 'GET', '/api/v1/open/batch');
    if (body === null) return;
    const addressType = body.address_type === 1 ? 'hot' : 'cold';
    const channel = this.currentChannel();
    let ok = false;
    if (channel !== undefined) {
      const reply = await this.awaitBatchReply(body.batch_no, addressType);
      const checked = reply === undefined ? undefined : this.state.channels.find((c) => c.cId === reply.cId && c.status === 'ok');
      if (reply !== undefined && checked?.qc !== undefined) {
        const content = batchContentString([...body.address_list].sort((a, b) => a.index - b.index).map((a) => a.address));
        try {
          ok = bytesToHex(recoverMessagePublicKey(content, reply.signature)).toUpperCase() === checked.qc;
        } catch {
          ok = false;
        }
      }
    }
    this.emit({ type: 'batch.checked', batchNo: body.batch_no, addressType, ok });
    await this.http(this.o.vweb.baseUrl, 'POST', '/api/v1/open/batch', { batch_no: String(body.batch_no), status: ok ? '2' : '3', type: String(body.address_type) });
  }

  private async awaitBatchReply(batchNo: number, addressType: 'hot' | 'cold'): Promise<{ signature: string; cId: number } | undefined> {
    let answered = false;
    const reply = new Promise<{ signature: string; cId: number } | undefined>((resolve) => {
      const done = (value: { signature: string; cId: number } | undefined): void => {
        answered = true;
        resolve(value);
      };
      this.pendingBatches.push({ batchNo, addressType, resolve: done });
      this.o.clock.setTimeout(() => done(undefined), 10 * 60_000);
    });
    await this.sendToCold(formatVDeviceMessage({ kind: 'verify-addresses', addressType, batchNo, coin: this.o.coin }), () => answered);
    return reply;
  }

  private async processNextWithdrawal(): Promise<void> {
    const { body } = await this.http<{ vtest_info: string; vtest_at: string; vtest_id: number } | null>(this.o.vweb.baseUrl, 'GET', '/api/v1/open/vtest');
    if (body === null) return;
    const report = async (txHash: string | null, reason?: string): Promise<void> => {
      this.emit({ type: 'withdrawal.done', vtestId: body.vtest_id, txHash, ...(reason === undefined ? {} : { reason }) });
      await this.http(this.o.vweb.baseUrl, 'POST', '/api/v1/open/vtest', { vtest_id: String(body.vtest_id), tx_hash: txHash ?? '' });
    };
    let payload;
    try {
      payload = decryptVtest(body.vtest_info, this.o.vweb.password);
      const coin = (payload.coin_code ?? this.o.coin) as Coin;
      parseOuts(payload.outs, networkFor(coin, this.o.network));
    } catch (error) {
      return report(null, (error as Error).message);
    }
    const total = payload.outs === 'PING' ? 0n : payload.outs.split(';').reduce((sum, e) => sum + BigInt(e.split(',')[1] ?? '0'), 0n);
    const user = await this.http<{ balance?: number }>(this.o.platform.baseUrl, 'GET', `/api/v1/open/${this.o.coin.toLowerCase()}/user`, undefined, this.o.platform.token);
    const balance = BigInt(user.body?.balance ?? 0);
    if (balance < total || balance < this.o.loop.balanceThreshold) return report(null, `balance ${balance} below what the withdrawal needs`);
    const result = await this.submit({
      coinCode: (payload.coin_code ?? this.o.coin) as Coin,
      userTxNo: String(body.vtest_id),
      outs: payload.outs,
      isDynamicFee: payload.dynamic,
      ...(payload.out_type !== undefined ? { outType: payload.out_type } : {}),
      ...(payload.memo !== undefined ? { memo: payload.memo } : {}),
    });
    await report(result.status === 1 ? result.txHash : null, result.reason);
  }

  /** Signs and posts a request, then polls until the platform reports OK (1) or failed (9). */
  private async submit(request: HotSendRequest): Promise<{ status: number; txHash: string | null; reason?: string }> {
    const channel = this.currentChannel();
    if (channel === undefined || channel.cId === undefined) return { status: 9, txHash: null, reason: 'no channel' };
    const vcCode = signMessage(requestString(request), Buffer.from(channel.dh, 'hex'));
    const form: Record<string, string> = {
      coin_code: request.coinCode,
      user_tx_no: request.userTxNo,
      outs: request.outs,
      vc_code: vcCode,
      is_dynamic_fee: String(request.isDynamicFee),
      c_id: String(channel.cId),
      ...(request.outType !== undefined ? { outType: String(request.outType) } : {}),
      ...(request.memo !== undefined ? { memo: request.memo } : {}),
    };
    const posted = await this.http<{ result?: boolean; errors?: Array<{ message: string }> }>(this.o.platform.baseUrl, 'POST', `/api/v1/open/${request.coinCode.toLowerCase()}/tx/request`, form, this.o.platform.token);
    if (posted.status !== 200 || posted.body?.result !== true) return { status: 9, txHash: null, reason: posted.body?.errors?.[0]?.message ?? `HTTP ${posted.status}` };
    const deadline = this.o.clock.now() + this.o.loop.txTimeoutMs;
    while (this.o.clock.now() < deadline && !this.stopped) {
      await this.o.clock.sleep(this.o.loop.txPollMs);
      const polled = await this.http<{ hot_wallet_tx_status?: number; tx_hash?: string | null }>(
        this.o.platform.baseUrl,
        'GET',
        `/api/v1/open/${request.coinCode.toLowerCase()}/tx/${encodeURIComponent(request.userTxNo)}`,
        undefined,
        this.o.platform.token,
      );
      const status = polled.body?.hot_wallet_tx_status;
      if (status === 1) return { status: 1, txHash: polled.body?.tx_hash ?? null };
      if (status === 9) return { status: 9, txHash: null, reason: 'the platform reports the request failed' };
    }
    return { status: 0, txHash: null, reason: 'no result in time' };
  }

  private load(): Persisted {
    const file = this.o.stateFile;
    if (file !== undefined && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Persisted;
    return { lastHId: 0, channels: [], loopRunning: false };
  }

  private save(): void {
    const file = this.o.stateFile;
    if (file === undefined) return;
    writeFileSync(`${file}.tmp`, JSON.stringify(this.state));
    renameSync(`${file}.tmp`, file);
  }
}
