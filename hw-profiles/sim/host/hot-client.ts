/**
 * The platform's client of HSM-Hot's host API (hsm-hot/api-wire.ts): one authenticated
 * WebSocket session that signs every operation with the platform key, keeps its nonces
 * increasing across restarts, checks every signed message against the pinned device identity,
 * and follows the journal: on every (re)connection it subscribes to `tx` and `events` and
 * replays `history` from the last journal id it handled, so nothing published while it was
 * away is missed and nothing is handled twice.
 *
 *   const hot = new HotClient({ url, identity, privateKey, clock, state });
 *   hot.onJournal((m) => ...);            // tx_status / event messages, in id order, once each
 *   await hot.start();                    // resolves on the first authenticated session
 *   await hot.send('tx_request', params); // resolves on ack, rejects with HotApiError on err
 *   const reply = await hot.query('tx_status', { user_tx_no: '8' });
 * @module
 */
import WebSocket from 'ws';
import type { Clock, TimerHandle } from '../../../shared/clock.ts';
import { bytesToHex } from '../../../shared/crypto/hash.ts';
import { signMessage, verifyMessageWithPublicKey } from '../../../shared/crypto/message-signature.ts';
import { secp } from '../../../shared/crypto/secp.ts';
import { HsmError } from '../../../shared/errors.ts';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import { API_VERSION, authSigningString, messageSigningString, operationSigningString } from '../../../hsm-hot/api-wire.ts';

export interface HotMessage {
  msg: string;
  data: any;
  id?: number;
  nonce?: number;
  signed?: string;
}

/** Where the client keeps what must survive a restart of the platform. */
export interface HotClientState {
  lastNonce(): number;
  saveNonce(nonce: number): void;
  lastJournalId(): number;
  /** Called after a journal message was handled (listeners returned). */
  saveJournalId(id: number): void;
}

export interface HotClientOptions {
  url: string;
  /** The device identity key (66 hex), pinned at provisioning. */
  identity: string;
  /** The platform key registered on the device. */
  privateKey: Uint8Array;
  clock: Clock;
  state: HotClientState;
  topics?: ReadonlyArray<'tx' | 'events'>;
  /** Ack/reply wait, in clock ms. Default 30 s. */
  timeoutMs?: number;
  log?: Logger;
}

/** An `err` from the device, or the device out of reach (code HOT_UNREACHABLE). */
export class HotApiError extends HsmError {}

interface Waiter {
  nonce: number;
  wantReply: boolean;
  acked: boolean;
  resolve: (message: HotMessage | undefined) => void;
  reject: (error: Error) => void;
  timer: TimerHandle;
}

const BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000, 30_000];

export class HotClient {
  private readonly o: HotClientOptions;
  private readonly log: Logger;
  private readonly publicKey: string;
  private ws: WebSocket | undefined;
  private authenticated = false;
  private stopped = false;
  private attempts = 0;
  private retryTimer: TimerHandle | undefined;
  private readonly waiters = new Map<number, Waiter>();
  private readonly journalListeners = new Set<(message: HotMessage) => void | Promise<void>>();
  private readonly stateListeners = new Set<(up: boolean) => void>();
  private readyWaiters: Array<() => void> = [];
  private journalQueue: Promise<void> = Promise.resolve();
  private handledId: number;
  /** Journal messages held back while `history` catches up, by id (live ones may overtake it). */
  private held: Map<number, HotMessage> | undefined;

  constructor(options: HotClientOptions) {
    this.o = options;
    this.log = options.log ?? silentLogger;
    this.publicKey = bytesToHex(secp.getPublicKey(options.privateKey, true));
    this.handledId = options.state.lastJournalId();
  }

  get connected(): boolean {
    return this.authenticated;
  }

  onJournal(listener: (message: HotMessage) => void | Promise<void>): () => void {
    this.journalListeners.add(listener);
    return () => this.journalListeners.delete(listener);
  }

  onConnection(listener: (up: boolean) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Connects (and keeps reconnecting); resolves once the first session is authenticated. */
  start(): Promise<void> {
    this.stopped = false;
    this.connect();
    return this.ready();
  }

  /** Resolves when a session is authenticated. */
  ready(): Promise<void> {
    if (this.authenticated) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.o.clock.clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = undefined;
    this.dropSession('the client stopped');
    if (ws !== undefined && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
        setTimeout(() => (ws.terminate(), resolve()), 1_000).unref();
      });
    }
    await this.journalQueue;
  }

  /** Sends an operation; resolves on its ack. */
  async send(op: string, params: Record<string, unknown>): Promise<void> {
    await this.operate(op, params, false);
  }

  /** Sends an operation; resolves with the signed reply that carries its nonce. */
  async query(op: string, params: Record<string, unknown> = {}): Promise<HotMessage> {
    return (await this.operate(op, params, true)) as HotMessage;
  }

  // ---------------------------------------------------------------------------------------

  private nextNonce(): number {
    const nonce = this.o.state.lastNonce() + 1;
    this.o.state.saveNonce(nonce);
    return nonce;
  }

  private operate(op: string, params: Record<string, unknown>, wantReply: boolean): Promise<HotMessage | undefined> {
    const ws = this.ws;
    if (ws === undefined || !this.authenticated || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new HotApiError('HOT_UNREACHABLE', 'HSM-Hot is not connected'));
    }
    const nonce = this.nextNonce();
    const key = this.publicKey;
    const signed = signMessage(operationSigningString(op, key, nonce, params), this.o.privateKey);
    const promise = this.expect(nonce, wantReply);
    ws.send(JSON.stringify({ op, data: { apiVersion: API_VERSION, key, nonce, params, signed } }));
    return promise;
  }

  private expect(nonce: number, wantReply: boolean): Promise<HotMessage | undefined> {
    return new Promise((resolve, reject) => {
      const timer = this.o.clock.setTimeout(() => {
        this.waiters.delete(nonce);
        reject(new HotApiError('HOT_TIMEOUT', `HSM-Hot did not answer nonce ${nonce} in time`));
      }, this.o.timeoutMs ?? 30_000);
      this.waiters.set(nonce, { nonce, wantReply, acked: false, resolve, reject, timer });
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.o.url, { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let message: HotMessage;
      try {
        message = JSON.parse(data.toString()) as HotMessage;
      } catch {
        this.log.warn('HSM-Hot sent a message that is not JSON');
        return;
      }
      void this.onMessage(ws, message);
    });
    ws.on('error', (error) => this.log.debug({ err: error.message }, 'host API connection error'));
    ws.on('close', () => {
      if (this.ws === ws) this.ws = undefined;
      this.dropSession('the connection to HSM-Hot closed');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)] as number;
    this.attempts++;
    this.o.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.o.clock.setTimeout(() => this.connect(), delay);
  }

  private dropSession(reason: string): void {
    const was = this.authenticated;
    this.authenticated = false;
    for (const waiter of this.waiters.values()) {
      this.o.clock.clearTimeout(waiter.timer);
      waiter.reject(new HotApiError('HOT_UNREACHABLE', reason));
    }
    this.waiters.clear();
    if (was) for (const l of this.stateListeners) l(false);
  }

  private async onMessage(ws: WebSocket, message: HotMessage): Promise<void> {
    if (message.msg === 'challenge' && typeof message.data === 'string') {
      await this.authenticate(ws, message.data);
      return;
    }
    if (message.msg === 'ack' || message.msg === 'err') {
      const waiter = this.waiters.get(message.data?.nonce);
      if (waiter === undefined) return;
      if (message.msg === 'err') {
        this.settle(waiter);
        const { code, message: text, field } = message.data as { code: string; message: string; field?: string };
        waiter.reject(new HotApiError(code, text, field === undefined ? {} : { field }));
      } else if (!waiter.wantReply) {
        this.settle(waiter);
        waiter.resolve(undefined);
      } else {
        waiter.acked = true;
      }
      return;
    }
    if (!this.verified(message)) {
      this.log.error({ msg: message.msg }, 'a message from HSM-Hot does not carry the pinned identity signature; dropped');
      return;
    }
    if (typeof message.id === 'number') {
      if (this.held !== undefined) this.held.set(message.id, message);
      else this.enqueueJournal(message);
      return;
    }
    if (typeof message.nonce === 'number') {
      const waiter = this.waiters.get(message.nonce);
      if (waiter !== undefined && waiter.wantReply) {
        this.settle(waiter);
        waiter.resolve(message);
      }
    }
  }

  private settle(waiter: Waiter): void {
    this.o.clock.clearTimeout(waiter.timer);
    this.waiters.delete(waiter.nonce);
  }

  private verified(message: HotMessage): boolean {
    if (typeof message.signed !== 'string') return false;
    try {
      return verifyMessageWithPublicKey(messageSigningString(message as unknown as Record<string, unknown>), message.signed, Buffer.from(this.o.identity, 'hex'));
    } catch {
      return false;
    }
  }

  private async authenticate(ws: WebSocket, challenge: string): Promise<void> {
    const key = this.publicKey;
    const nonce = this.nextNonce();
    const signed = signMessage(authSigningString(key, nonce, challenge), this.o.privateKey);
    const acked = this.expect(nonce, false);
    ws.send(JSON.stringify({ op: 'auth', data: { apiVersion: API_VERSION, key, nonce, signed } }));
    try {
      await acked;
      this.authenticated = true;
      this.held = new Map();
      await this.query('subscribe', { topics: [...(this.o.topics ?? ['tx', 'events'])] });
      await this.catchUp();
      const held = [...this.held.values()].sort((a, b) => (a.id as number) - (b.id as number));
      this.held = undefined;
      for (const message of held) this.enqueueJournal(message);
    } catch (error) {
      this.held = undefined;
      this.authenticated = false;
      const e = error as HsmError;
      if (e.code === 'NONCE_STALE' || e.code === 'NONCE_REPLAYED') {
        // The platform's nonce record is behind the device's (restored from an older backup):
        // jump ahead to a nonce that cannot have been used, and try again.
        this.o.state.saveNonce(Math.max(this.o.state.lastNonce(), this.o.clock.now() * 1000));
      }
      this.log.warn({ code: e.code }, 'host API session could not be set up');
      ws.close();
      return;
    }
    this.attempts = 0;
    for (const l of this.stateListeners) l(true);
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Replays the journal after the last handled id, page by page. Subscribed first, so every
   * message published from then on arrives live; the pages cover everything before. Both are
   * held and handled afterwards in id order.
   */
  private async catchUp(): Promise<void> {
    let since = this.handledId;
    for (;;) {
      const reply = await this.query('history', { since });
      if (reply.data?.more !== true) return;
      since = Number(reply.data.last_id);
    }
  }

  private enqueueJournal(message: HotMessage): void {
    this.journalQueue = this.journalQueue.then(async () => {
      const id = message.id as number;
      if (id <= this.handledId) return;
      for (const listener of this.journalListeners) {
        try {
          await listener(message);
        } catch (error) {
          this.log.error({ err: (error as Error).message, id }, 'a journal listener failed');
        }
      }
      this.handledId = id;
      this.o.state.saveJournalId(id);
    });
  }
}
