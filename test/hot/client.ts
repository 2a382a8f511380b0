/**
 * The platform's side of the host API for tests: a real `ws` client that authenticates with a
 * registered key, signs operations, collects every message, and checks the device's
 * signatures with an independent implementation (its own canonical JSON, bitcoinjs-message).
 */
import WebSocket from 'ws';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { bitcoin, bitcoinMessage } from '../oracle/bitcoinjs.ts';
import { PLATFORM } from './wallet-fixture.ts';

export interface ServerMessage {
  msg: string;
  data: any;
  id?: number;
  nonce?: number;
  signed?: string;
  /** The text as received. */
  raw: string;
}

export interface ClientKey {
  privateKey: Uint8Array;
  publicKey: string;
}

/** Nonces only go up, per key, across every client of a test file (as a real platform keeps them). */
const lastNonces = new Map<string, number>();
export function nextNonce(key: string): number {
  const next = (lastNonces.get(key) ?? 1_000) + 1;
  lastNonces.set(key, next);
  return next;
}

/** Canonical JSON written independently of hsm-hot/api-wire.ts: sorted keys, no spaces. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** True when `message` carries a valid signature by the device key `identity` (hex). */
export function deviceSignatureValid(message: ServerMessage, identity: string): boolean {
  if (message.signed === undefined) return false;
  const { signed, raw: _raw, ...rest } = message;
  const address = bitcoin.payments.p2pkh({ pubkey: Buffer.from(identity, 'hex') }).address as string;
  return bitcoinMessage.verify(canonical(rest), address, signed);
}

export class PlatformClient {
  readonly received: ServerMessage[] = [];
  challenge = '';
  closed = false;
  closeCode: number | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly ws: WebSocket,
    readonly key: ClientKey,
  ) {
    ws.on('message', (data) => {
      const raw = data.toString();
      const parsed = JSON.parse(raw) as Omit<ServerMessage, 'raw'>;
      this.received.push({ ...parsed, raw });
      this.wake();
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
  }

  static async connect(url: string, key: ClientKey = PLATFORM): Promise<PlatformClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = new PlatformClient(ws, key);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const challenge = await client.next((m) => m.msg === 'challenge');
    client.challenge = challenge.data as string;
    return client;
  }

  /** Connects and authenticates. */
  static async session(url: string, key: ClientKey = PLATFORM): Promise<PlatformClient> {
    const client = await PlatformClient.connect(url, key);
    const reply = await client.auth();
    if (reply.msg !== 'ack') throw new Error(`auth refused: ${JSON.stringify(reply.data)}`);
    return client;
  }

  auth(options: { nonce?: number; key?: string; signWith?: Uint8Array; challenge?: string } = {}): Promise<ServerMessage> {
    const key = options.key ?? this.key.publicKey;
    const nonce = options.nonce ?? nextNonce(key);
    const signed = signMessage(`AUTH${key}${nonce}${options.challenge ?? this.challenge}`, options.signWith ?? this.key.privateKey);
    return this.request('auth', { apiVersion: 1, key, nonce, signed }, nonce);
  }

  /** Sends a signed operation; resolves with its ack or err. */
  op(
    op: string,
    params: Record<string, unknown>,
    options: { nonce?: number; key?: string; signWith?: Uint8Array; signedParams?: Record<string, unknown> } = {},
  ): Promise<ServerMessage> {
    const key = options.key ?? this.key.publicKey;
    const nonce = options.nonce ?? nextNonce(key);
    const text = `${op.toUpperCase()}${key}${nonce}${canonical(options.signedParams ?? params)}`;
    const signed = signMessage(text, options.signWith ?? this.key.privateKey);
    return this.request(op, { apiVersion: 1, key, nonce, params, signed }, nonce);
  }

  /** The signed operation as text, without sending it (for replays). */
  signedText(op: string, params: Record<string, unknown>, nonce: number): string {
    const key = this.key.publicKey;
    const signed = signMessage(`${op.toUpperCase()}${key}${nonce}${canonical(params)}`, this.key.privateKey);
    return JSON.stringify({ op, data: { apiVersion: 1, key, nonce, params, signed } });
  }

  /** Sends text and resolves with the next ack or err that answers `nonce` (or carries none). */
  async sendText(text: string, nonce: number | null = null): Promise<ServerMessage> {
    const from = this.received.length;
    this.ws.send(text);
    return this.next((m) => (m.msg === 'ack' || m.msg === 'err') && m.data.nonce === nonce, from);
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The first message from index `from` on that satisfies `predicate` (waits for it). */
  next(predicate: (m: ServerMessage) => boolean, from = 0, timeoutMs = 20_000): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.received.slice(from).find(predicate);
        if (found !== undefined) {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve(found);
          return true;
        }
        if (this.closed) {
          this.waiters.delete(wake);
          clearTimeout(timer);
          reject(new Error(`connection closed (${this.closeCode}) while waiting`));
          return true;
        }
        return false;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error('message not received in time'));
      }, timeoutMs);
      this.waiters.add(wake);
      check();
    });
  }

  messages(msg: string): ServerMessage[] {
    return this.received.filter((m) => m.msg === msg);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  /** Drops the TCP connection without a closing handshake. */
  drop(): void {
    this.ws.terminate();
  }

  private request(op: string, data: Record<string, unknown>, nonce: number): Promise<ServerMessage> {
    return this.sendText(JSON.stringify({ op, data }), nonce);
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
