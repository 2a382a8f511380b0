/**
 * The host API server (ws): framing, size caps, authentication, nonces, scopes, rate limits,
 * signed replies and journal delivery. The wire format is in api-wire.ts; the operations
 * themselves are in operations.ts.
 *
 * Connections are admitted by the connection gate (connection-gate.ts): until it authenticates,
 * a connection is pending, with a short deadline and caps per address and in all, under which
 * the oldest pending connection gives way to a new one; so idle sockets cannot keep the
 * platform out. Authenticated connections are capped apart (`maxConnections`).
 *
 * An incoming message is checked in this order, and the first failure is the `err` it gets:
 *   connection rate (RATE_LIMITED) → size (MESSAGE_TOO_LARGE) → text frame (MESSAGE_BINARY) →
 *   JSON and envelope (MESSAGE_MALFORMED) → known op (OP_UNKNOWN) → data fields (API_VERSION,
 *   KEY_FORMAT, NONCE_INVALID, SIGNATURE_INVALID, PARAMS_INVALID) → authenticated
 *   (AUTH_REQUIRED / AUTH_ALREADY) → registered key (KEY_UNKNOWN, KEY_MISMATCH) → key rate,
 *   operations only (RATE_LIMITED) → signature (SIGNATURE_INVALID) → nonce (NONCE_REPLAYED,
 *   NONCE_STALE, NONCE_TOO_FAR) → scope (SCOPE_MISSING) → params (PARAMS_INVALID) → the
 *   operation.
 * The signature comes before the nonce, so a message that is not signed by the key learns
 * nothing about the key's last nonce. Nothing is written before both pass. From then on the
 * nonce is spent, in the same transaction as the operation's effect, or alone when the
 * operation is refused.
 * A frame above `hardMessageBytes` is not read: the connection closes with 1009.
 * Operations read in one turn (a platform sending many at once) share that transaction: one
 * durable commit for the group, the nonce checked again inside it, each acknowledged after it
 * commits; if it fails, each runs again alone.
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { z } from 'zod';
import type { Clock } from '../shared/clock.ts';
import { HsmError } from '../shared/errors.ts';
import { bytesToHex } from '../shared/crypto/hash.ts';
import { verifyMessageWithPublicKey } from '../shared/crypto/message-signature.ts';
import type { Logger } from '../shared/log.ts';
import { silentLogger } from '../shared/log.ts';
import type { RandomSource } from '../shared/random.ts';
import type { DeviceStore, ReadView, WriteTx } from '../shared/store/store.ts';
import { checkKeyFormat, keyScopes, lastNonce, spendNonce } from './api-keys.ts';
import {
  API_ERROR,
  API_VERSION,
  OPERATIONS,
  TOPICS,
  authSigningString,
  maxNextNonce,
  operationSigningString,
  type OperationName,
  type Scope,
  type Topic,
} from './api-wire.ts';
import type { ApiLimits } from './config.ts';
import { signedMessage, type Journal, type JournalEntry, type JsonData, type MessageSigner } from './journal.ts';
import { CLOSE, ConnectionGate } from './connection-gate.ts';
import { KeyedBuckets, TokenBucket } from './rate-limit.ts';

export interface OperationContext {
  op: OperationName;
  key: string;
  nonce: number;
  scopes: readonly Scope[];
  /** Sends a signed reply `{msg, nonce, data, signed}` on this connection (if still open). */
  reply(msg: string, data: JsonData): void;
  /** Sends a stored journal message as it was first sent. */
  replay(entry: JournalEntry): void;
  /** Adds journal topics this connection receives live. */
  subscribe(topics: readonly Topic[]): void;
  /** Reports a failure that happened after the ack (`err` with this nonce). */
  fail(error: unknown): void;
}

export interface Operation<P = unknown> {
  /** The scope the key must hold (`null`: any registered key). */
  scope: Scope | null;
  params: z.ZodType<P>;
  /**
   * Checks and applies the operation inside the transaction that spends the nonce. Throwing
   * (an HsmError) refuses it: nothing but the nonce is written. The returned work runs after
   * the ack has been sent.
   */
  accept(params: P, ctx: OperationContext, tx: WriteTx): void | (() => void | Promise<void>);
}

export type OperationTable = Record<Exclude<OperationName, 'auth'>, Operation<never>>;

export interface HostApiOptions {
  store: DeviceStore;
  clock: Clock;
  random: RandomSource;
  limits: ApiLimits;
  listen: { host: string; port: number };
  sign: MessageSigner;
  journal: Journal;
  operations: OperationTable;
  log?: Logger;
}

interface ParsedOperation {
  op: OperationName;
  key: string;
  nonce: number;
  signed: string;
  params: Record<string, unknown> | undefined;
}

const utf8 = new TextEncoder();
const MAX_SIGNATURE_TEXT = 100;
/** How long a connection the device closes may take to answer the close before it is cut. */
const CLOSE_GRACE_MS = 2_000;
/** A client that does not read its messages is dropped once this much is queued for it. */
const MAX_BUFFERED = 16 * 1024 * 1024;

class Connection {
  key: string | undefined;
  scopes: readonly Scope[] = [];
  readonly topics = new Set<Topic>();

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly challenge: string,
    readonly bucket: TokenBucket,
  ) {}

  send(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED) {
      this.ws.close(1008, 'not reading');
      return;
    }
    this.ws.send(text);
  }
}

function errorData(op: string | null, nonce: number | null, error: HsmError): JsonData {
  const data: JsonData = { op, nonce, code: error.code, message: error.message };
  if (error.field !== undefined) data.field = error.field;
  return data;
}

function apiError(code: string, message: string, field?: string): HsmError {
  return new HsmError(code, message, field === undefined ? {} : { field });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Reads `{op, data}` and the data fields every operation carries; throws the first problem. */
function readOperation(text: string): ParsedOperation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw apiError(API_ERROR.MESSAGE_MALFORMED, 'the message is not JSON');
  }
  if (!isPlainObject(value)) throw apiError(API_ERROR.MESSAGE_MALFORMED, 'the message must be a JSON object {op, data}');
  for (const k of Object.keys(value)) {
    if (k !== 'op' && k !== 'data') throw apiError(API_ERROR.MESSAGE_MALFORMED, `unexpected field "${k.slice(0, 32)}"`, k.slice(0, 32));
  }
  const { op, data } = value;
  if (typeof op !== 'string') throw apiError(API_ERROR.MESSAGE_MALFORMED, 'op must be a string', 'op');
  if (!(OPERATIONS as readonly string[]).includes(op)) throw apiError(API_ERROR.OP_UNKNOWN, `unknown operation "${op.slice(0, 32)}"`, 'op');
  if (!isPlainObject(data)) throw apiError(API_ERROR.MESSAGE_MALFORMED, 'data must be a JSON object', 'data');
  const allowed = op === 'auth' ? ['apiVersion', 'key', 'nonce', 'signed'] : ['apiVersion', 'key', 'nonce', 'params', 'signed'];
  for (const k of Object.keys(data)) {
    if (!allowed.includes(k)) throw apiError(API_ERROR.MESSAGE_MALFORMED, `unexpected field data.${k.slice(0, 32)}`, `data.${k.slice(0, 32)}`);
  }
  if (data.apiVersion !== API_VERSION) throw apiError(API_ERROR.API_VERSION, `apiVersion must be ${API_VERSION}`, 'data.apiVersion');
  if (typeof data.key !== 'string') throw apiError(API_ERROR.KEY_FORMAT, 'key must be a string', 'data.key');
  checkKeyFormat(data.key, 'data.key');
  if (typeof data.nonce !== 'number' || !Number.isSafeInteger(data.nonce) || data.nonce < 1) {
    throw apiError(API_ERROR.NONCE_INVALID, 'nonce must be an integer in 1..2^53-1', 'data.nonce');
  }
  if (typeof data.signed !== 'string' || data.signed.length === 0 || data.signed.length > MAX_SIGNATURE_TEXT) {
    throw apiError(API_ERROR.SIGNATURE_INVALID, 'signed must be a base64 message signature', 'data.signed');
  }
  let params: Record<string, unknown> | undefined;
  if (op !== 'auth') {
    if (!isPlainObject(data.params)) throw apiError(API_ERROR.PARAMS_INVALID, 'params must be a JSON object', 'data.params');
    params = data.params;
  }
  return { op: op as OperationName, key: data.key, nonce: data.nonce, signed: data.signed, params };
}

/** An operation whose signature, scope and parameters were checked, waiting to be accepted. */
interface QueuedOperation {
  conn: Connection;
  parsed: ParsedOperation;
  operation: Operation<unknown>;
  params: unknown;
  ctx: OperationContext;
}

/** The nonce must be above the last one accepted from the key (as `view` holds it). */
function checkNonce(view: ReadView, parsed: ParsedOperation): void {
  const last = lastNonce(view, parsed.key);
  if (parsed.nonce === last) throw apiError(API_ERROR.NONCE_REPLAYED, `nonce ${parsed.nonce} was already used by this key`, 'data.nonce');
  if (parsed.nonce < last) {
    throw apiError(API_ERROR.NONCE_STALE, `nonce ${parsed.nonce} is not above the last one accepted from this key (${last})`, 'data.nonce');
  }
}

/** The nonce of a message that failed before it was fully read, when it has a usable one. */
function nonceOf(text: string): { op: string | null; nonce: number | null } {
  try {
    const value = JSON.parse(text) as { op?: unknown; data?: { nonce?: unknown } };
    const op = typeof value?.op === 'string' && (OPERATIONS as readonly string[]).includes(value.op) ? value.op : null;
    const nonce = value?.data?.nonce;
    return { op, nonce: typeof nonce === 'number' && Number.isSafeInteger(nonce) && nonce >= 1 ? nonce : null };
  } catch {
    return { op: null, nonce: null };
  }
}

function zodError(error: z.ZodError): HsmError {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const field = path === '' ? 'data.params' : path;
  return apiError(API_ERROR.PARAMS_INVALID, `params${path === '' ? '' : `.${path}`}: ${issue?.message ?? 'invalid'}`, field);
}

export class HostApi {
  private readonly options: HostApiOptions;
  private readonly log: Logger;
  private readonly connections = new Set<Connection>();
  private readonly keyBuckets: KeyedBuckets;
  private readonly gate: ConnectionGate;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private unsubscribeJournal: (() => void) | undefined;
  private listening: { host: string; port: number } | undefined;
  /** Operations checked and waiting for the next group commit, in arrival order. */
  private toRun: QueuedOperation[] = [];

  constructor(options: HostApiOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
    this.keyBuckets = new KeyedBuckets(options.clock, options.limits.keyBurst, options.limits.keyPerSecond);
    this.gate = new ConnectionGate(options.clock, {
      maxPending: options.limits.maxPendingConnections,
      maxPendingPerAddress: options.limits.maxPendingPerAddress,
      authTimeoutMs: options.limits.authTimeoutMs,
    });
  }

  get address(): { host: string; port: number } | undefined {
    return this.listening;
  }

  /** WebSocket connections, authenticated or not. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections (raw or WebSocket) that have not authenticated yet. */
  get pendingCount(): number {
    return this.gate.pendingCount;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  start(): Promise<{ host: string; port: number }> {
    const { limits, listen } = this.options;
    return new Promise((resolve, reject) => {
      const server = createServer((_request, response) => {
        response.writeHead(426, { connection: 'close', 'content-type': 'text/plain', upgrade: 'websocket' }).end('a WebSocket API: upgrade\n');
      });
      const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardMessageBytes, perMessageDeflate: false });
      this.server = server;
      this.wss = wss;
      server.on('connection', (socket: Socket) => this.gate.admit(socket));
      server.on('upgrade', (request, socket, head) => {
        if (!this.gate.isPending(socket as Socket)) {
          socket.destroy(); // made room for a newer connection, or timed out, before it upgraded
          return;
        }
        wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, socket as Socket));
      });
      server.once('error', (cause) => reject(new HsmError('HOST_API_LISTEN', `cannot listen on ${listen.host}:${listen.port}`, { cause })));
      server.listen(listen.port, listen.host, () => {
        const address = server.address();
        if (typeof address === 'string' || address === null) {
          reject(new HsmError('HOST_API_LISTEN', 'the server has no TCP address'));
          return;
        }
        this.listening = { host: address.address, port: address.port };
        server.on('error', (error) => this.log.error({ err: error.message }, 'host API server error'));
        resolve(this.listening);
      });
      this.unsubscribeJournal = this.options.journal.onAppend((entry) => this.deliver(entry));
    });
  }

  async stop(): Promise<void> {
    this.unsubscribeJournal?.();
    for (const conn of this.connections) conn.ws.terminate();
    this.connections.clear();
    this.gate.clear();
    const server = this.server;
    this.server = undefined;
    this.wss?.close();
    this.wss = undefined;
    this.listening = undefined;
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
  }

  private onConnection(ws: WebSocket, socket: Socket): void {
    const { limits, clock, random } = this.options;
    const conn = new Connection(ws, socket, bytesToHex(random.bytes(32)), new TokenBucket(clock, limits.connectionBurst, limits.connectionPerSecond));
    this.connections.add(conn);
    this.gate.upgraded(socket, (code, reason) => {
      ws.close(code, reason);
      // A peer that never answers the close does not keep its socket.
      clock.setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    });
    ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
    ws.on('close', () => this.connections.delete(conn));
    // ws closes the connection itself on a protocol error, with its code (1009 for a frame
    // past maxPayload), and ends it if the peer does not answer the close.
    ws.on('error', (error) => this.log.debug({ err: error.message }, 'host API connection error'));
    conn.send(JSON.stringify({ msg: 'challenge', data: conn.challenge }));
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let text: string | undefined;
    try {
      if (!conn.bucket.take()) throw apiError(API_ERROR.RATE_LIMITED, 'too many messages on this connection; slow down');
      if (bytes.length > this.options.limits.maxMessageBytes) {
        throw apiError(API_ERROR.MESSAGE_TOO_LARGE, `the message is ${bytes.length} bytes; at most ${this.options.limits.maxMessageBytes} are read`);
      }
      if (isBinary) throw apiError(API_ERROR.MESSAGE_BINARY, 'operations are JSON text messages, not binary ones');
      text = bytes.toString('utf8');
      this.handle(conn, text);
    } catch (error) {
      const hsm = error instanceof HsmError ? error : this.internal(error);
      const { op, nonce } = text === undefined ? { op: null, nonce: null } : nonceOf(text);
      conn.send(JSON.stringify({ msg: 'err', data: errorData(op, nonce, hsm) }));
    }
  }

  private internal(error: unknown): HsmError {
    this.log.error({ err: (error as Error)?.message }, 'host API operation failed unexpectedly');
    return apiError(API_ERROR.INTERNAL, 'the operation failed inside the device; nothing was changed');
  }

  private handle(conn: Connection, text: string): void {
    const parsed = readOperation(text);
    if (parsed.op === 'auth') {
      if (conn.key !== undefined) throw apiError(API_ERROR.AUTH_ALREADY, 'this connection is already authenticated', 'op');
    } else {
      if (conn.key === undefined) throw apiError(API_ERROR.AUTH_REQUIRED, 'authenticate first (op "auth")', 'op');
      if (parsed.key !== conn.key) throw apiError(API_ERROR.KEY_MISMATCH, 'the key differs from the one this connection authenticated with', 'data.key');
    }
    const { store } = this.options;
    const scopes = keyScopes(store, parsed.key);
    if (scopes === undefined) throw apiError(API_ERROR.KEY_UNKNOWN, 'the key is not registered with this device', 'data.key');
    // Only the connection that authenticated as a key spends that key's tokens; anonymous
    // `auth` attempts are bounded by the connection bucket, so they cannot starve the key.
    if (parsed.op !== 'auth' && !this.keyBuckets.take(parsed.key)) {
      throw apiError(API_ERROR.RATE_LIMITED, 'too many operations from this key; slow down');
    }
    const signingText =
      parsed.op === 'auth'
        ? authSigningString(parsed.key, parsed.nonce, conn.challenge)
        : operationSigningString(parsed.op, parsed.key, parsed.nonce, parsed.params);
    if (!verifyMessageWithPublicKey(utf8.encode(signingText), parsed.signed, Buffer.from(parsed.key, 'hex'))) {
      throw apiError(API_ERROR.SIGNATURE_INVALID, `the signature does not verify for this key over ${parsed.op === 'auth' ? 'AUTH + key + nonce + challenge' : 'OP + key + nonce + params'}`, 'data.signed');
    }
    checkNonce(store, parsed);
    const highest = maxNextNonce(lastNonce(store, parsed.key), this.options.clock.now());
    if (parsed.nonce > highest) {
      throw apiError(API_ERROR.NONCE_TOO_FAR, `nonce ${parsed.nonce} jumps too far past the last one accepted from this key; at most ${highest}`, 'data.nonce');
    }
    if (parsed.op === 'auth') {
      this.admitAuthenticated(conn, parsed.key);
      store.transact((tx) => {
        spendNonce(tx, parsed.key, parsed.nonce);
        tx.audit('api.auth', { key: parsed.key });
      });
      conn.key = parsed.key;
      conn.scopes = scopes;
      this.gate.authenticated(conn.socket);
      conn.send(JSON.stringify({ msg: 'ack', data: { op: 'auth', nonce: parsed.nonce } }));
      return;
    }
    this.run(conn, parsed, scopes);
  }

  /**
   * Makes room among the authenticated connections: at the cap, the oldest connection of the
   * same key gives way (a platform reconnecting before its old socket timed out); with none of
   * its own, the authentication is refused.
   */
  private admitAuthenticated(conn: Connection, key: string): void {
    const authenticated = [...this.connections].filter((c) => c.key !== undefined);
    if (authenticated.length < this.options.limits.maxConnections) return;
    const own = authenticated.find((c) => c.key === key);
    if (own === undefined) {
      throw apiError(API_ERROR.CONNECTION_LIMIT, `${authenticated.length} authenticated connections are open, the most this device serves`);
    }
    this.connections.delete(own);
    own.ws.close(CLOSE.tryAgainLater, 'replaced by a newer connection of the same key');
  }

  /** Checks an operation, then queues it for the next group commit. */
  private run(conn: Connection, parsed: ParsedOperation, scopes: readonly Scope[]): void {
    const op = parsed.op as Exclude<OperationName, 'auth'>;
    const operation = this.options.operations[op] as Operation<unknown>;
    let params: unknown;
    try {
      if (operation.scope !== null && !scopes.includes(operation.scope)) {
        throw apiError(API_ERROR.SCOPE_MISSING, `${op} needs the scope ${operation.scope}`, 'data.key');
      }
      const checked = operation.params.safeParse(parsed.params);
      if (!checked.success) throw zodError(checked.error);
      params = checked.data;
    } catch (error) {
      this.options.store.transact((tx) => spendNonce(tx, parsed.key, parsed.nonce));
      throw error;
    }
    this.toRun.push({ conn, parsed, operation, params, ctx: this.context(conn, parsed, scopes) });
    if (this.toRun.length === 1) queueMicrotask(() => this.commitGroup());
  }

  /**
   * Group commit: the operations read from the sockets in one turn (a platform that sends many
   * at once) are accepted in one durable transaction, each acknowledged only after it commits.
   * If the group's transaction fails, each runs again alone, so only the failing one is refused.
   */
  private commitGroup(): void {
    const group = this.toRun;
    this.toRun = [];
    if (group.length === 1) {
      for (const queued of group) this.runAlone(queued);
      return;
    }
    let works: Array<void | (() => void | Promise<void>)>;
    try {
      works = this.options.store.transact((tx) => group.map((queued) => this.accept(tx, queued)));
    } catch {
      for (const queued of group) queueMicrotask(() => this.runAlone(queued));
      return;
    }
    group.forEach((queued, i) => this.accepted(queued, works[i]));
  }

  /** One operation in its own transaction; a failure spends its nonce (unless the nonce was the fault) and is reported. */
  private runAlone(queued: QueuedOperation): void {
    const { store } = this.options;
    const { conn, parsed } = queued;
    let work: void | (() => void | Promise<void>);
    try {
      try {
        work = store.transact((tx) => this.accept(tx, queued));
      } catch (error) {
        if (!(error instanceof HsmError && (error.code === API_ERROR.NONCE_REPLAYED || error.code === API_ERROR.NONCE_STALE))) {
          store.transact((tx) => spendNonce(tx, parsed.key, parsed.nonce));
        }
        throw error;
      }
    } catch (error) {
      const hsm = error instanceof HsmError ? error : this.internal(error);
      conn.send(JSON.stringify({ msg: 'err', data: errorData(parsed.op, parsed.nonce, hsm) }));
      return;
    }
    this.accepted(queued, work);
  }

  /** Inside the transaction: the nonce again (another operation of the group may have spent it), then the operation. */
  private accept(tx: WriteTx, queued: QueuedOperation): void | (() => void | Promise<void>) {
    const { parsed } = queued;
    checkNonce(tx, parsed);
    spendNonce(tx, parsed.key, parsed.nonce);
    return queued.operation.accept(queued.params, queued.ctx, tx);
  }

  /** After the commit: the acknowledgement, then the operation's work. */
  private accepted(queued: QueuedOperation, work: void | (() => void | Promise<void>)): void {
    queued.conn.send(JSON.stringify({ msg: 'ack', data: { op: queued.parsed.op, nonce: queued.parsed.nonce } }));
    if (typeof work === 'function') {
      void Promise.resolve()
        .then(() => work())
        .catch((error: unknown) => queued.ctx.fail(error));
    }
  }

  private context(conn: Connection, parsed: ParsedOperation, scopes: readonly Scope[]): OperationContext {
    const { sign } = this.options;
    return {
      op: parsed.op,
      key: parsed.key,
      nonce: parsed.nonce,
      scopes,
      reply: (msg, data) => conn.send(signedMessage(sign, { msg, nonce: parsed.nonce, data })),
      replay: (entry) => conn.send(entry.wire),
      subscribe: (topics) => {
        for (const topic of topics) conn.topics.add(topic);
      },
      fail: (error) => {
        const hsm = error instanceof HsmError ? error : this.internal(error);
        conn.send(JSON.stringify({ msg: 'err', data: errorData(parsed.op, parsed.nonce, hsm) }));
      },
    };
  }

  /** Pushes a new journal message to the connections that may see it. */
  private deliver(entry: JournalEntry): void {
    for (const conn of this.connections) {
      if (conn.key === undefined) continue;
      const subscribed = conn.topics.has(entry.topic as Topic) && conn.scopes.includes(TOPICS[entry.topic as Topic]);
      if (subscribed || entry.owner === conn.key) conn.send(entry.wire);
    }
  }
}

/** Whether `key` with `scopes` may read a journal entry (history). */
export function journalVisible(entry: JournalEntry, key: string, scopes: readonly Scope[]): boolean {
  return entry.owner === key || scopes.includes(TOPICS[entry.topic as Topic]);
}

