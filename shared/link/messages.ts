/**
 * Link messages (layer 4): the single source of the message types HSM-Hot and HSM-Cold
 * exchange, their payload schemas, and the envelope around them.
 *
 * Encoding: msgpack (msgpackr, `useRecords: false`). Decoding of untrusted bytes runs, in order:
 * a size cap, a structural walk that refuses extension types and reserved bytes
 * (msgpack-guard.ts), msgpackr, then strict zod schemas (unknown keys refused) for the envelope
 * and for the body of its type. Every failure is an HsmError naming what was wrong.
 *
 * Envelope:
 *   request  {v: 1, k: "req", rid, t, w, b}    rid: request id, w: the requester's lowest
 *                                              unanswered rid (replies below it are settled)
 *   reply    {v: 1, k: "res", rid, t, ok: true, b}
 *   refusal  {v: 1, k: "res", rid, t, ok: false, e: {code, message, field?}, r}
 *            r = 1 when the refusal was recorded (a deterministic outcome, replayed to
 *            duplicates), 0 when nothing was applied (the caller may ask again).
 * @module
 */
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { COINS, NETWORK_IDS } from '../crypto/networks.ts';
import { HsmError } from '../errors.ts';
import type { LinkRole } from './link-crypto.ts';
import { checkMsgpack } from './msgpack-guard.ts';
import { MAX_MESSAGE } from './session.ts';

export const ENVELOPE_VERSION = 1;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', moreTypes: false, structuredClone: false });

/** Bytes in schemas: any Uint8Array (msgpack bin) up to `max` bytes. */
export function bytesSchema(max: number): z.ZodType<Uint8Array> {
  return z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes').refine((v) => v.length <= max, `at most ${max} bytes`);
}

const requestId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const typeName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/);

export interface MessageDef<Request, Reply> {
  /** Which device may send this request. */
  from: LinkRole | 'either';
  request: z.ZodType<Request>;
  reply: z.ZodType<Reply>;
  description: string;
}

export type MessageRegistry = Readonly<Record<string, MessageDef<unknown, unknown>>>;

function define<Request, Reply>(def: MessageDef<Request, Reply>): MessageDef<Request, Reply> {
  return def;
}

/** Messages of the link itself (diagnostics); device messages join this registry. */
export const LINK_MESSAGES = {
  'link.echo': define({
    from: 'either',
    description: 'returns its payload (link self-test, `selftest` on the console)',
    request: z.strictObject({ data: bytesSchema(64 * 1024) }),
    reply: z.strictObject({ data: bytesSchema(64 * 1024) }),
  }),
  'link.time': define({
    from: 'either',
    description: "the peer's wall clock, for the time sources check",
    request: z.strictObject({}),
    reply: z.strictObject({ now: z.number().int().nonnegative() }),
  }),
} as const satisfies MessageRegistry;

const coin = z.enum(COINS);

export const accountXpubSchema = z.strictObject({
  coin,
  network: z.enum(NETWORK_IDS),
  type: z.enum(['p2pkh', 'p2wpkh']),
  account: z.number().int().min(0).max(0x7fffffff),
  xpub: z.string().min(100).max(120),
});
export type AccountXpub = z.infer<typeof accountXpubSchema>;

export const channelSummarySchema = z.strictObject({
  cId: z.number().int().nonnegative(),
  status: z.enum(['pending', 'open', 'retired', 'expired', 'closed']),
  createdAt: z.number().int(),
  openedAt: z.number().int().optional(),
  expiresAt: z.number().int().optional(),
  closedAt: z.number().int().optional(),
  closeReason: z.string().max(200).optional(),
});
export type ChannelSummary = z.infer<typeof channelSummarySchema>;

/** Event kinds HSM-Cold reports to HSM-Hot (and HSM-Hot to its host's subscribers). */
export const COLD_EVENT_KINDS = ['channel.opened', 'channel.retired', 'channel.expired', 'channel.closed', 'channel.request-refused', 'alert', 'approval.refused'] as const;

/** Messages between the two devices. */
export const DEVICE_LINK_MESSAGES = {
  'cold.pin-xpubs': define({
    from: 'hot',
    description: "at pairing: HSM-Hot's account xpubs, which HSM-Cold pins; the reply carries HSM-Cold's",
    request: z.strictObject({ accounts: z.array(accountXpubSchema).min(1).max(16) }),
    reply: z.strictObject({ accounts: z.array(accountXpubSchema).min(1).max(16) }),
  }),
  'cold.approve': define({
    from: 'hot',
    description: 'asks HSM-Cold to verify a vc_code and apply its policy to a Hot-Sending request',
    request: z.strictObject({
      coinCode: coin,
      userTxNo: z.string().min(1).max(64),
      outs: z.string().min(1).max(16_384),
      isDynamicFee: z.union([z.literal(0), z.literal(1)]),
      outType: z.number().int().nonnegative().optional(),
      memo: z.string().max(256).optional(),
      vcCode: z.string().min(1).max(120),
      cId: z.number().int().nonnegative(),
      requestedAt: z.number().int().nonnegative(),
    }),
    reply: z.strictObject({
      kind: z.enum(['spend', 'ping']),
      requestHash: z.string().regex(/^[0-9a-f]{64}$/),
      userTxNo: z.string().min(1).max(64),
      cId: z.number().int().nonnegative(),
      approvedAt: z.number().int().nonnegative(),
      signature: z.string().max(120),
    }),
  }),
  'cold.status': define({
    from: 'hot',
    description: "HSM-Cold's channel, modems and time, for the host API",
    request: z.strictObject({}),
    reply: z.strictObject({
      channel: channelSummarySchema.nullable(),
      pendingChannel: channelSummarySchema.nullable(),
      modems: z.array(
        z.strictObject({
          id: z.string().max(32),
          usable: z.boolean(),
          registered: z.boolean(),
          operator: z.string().max(64).optional(),
          signal: z.number().int().min(0).max(99).optional(),
          queued: z.number().int().nonnegative(),
        }),
      ),
      timeTrusted: z.boolean(),
      /** Channel requests HSM-Cold refused without an answer, ever (absent from older firmware). */
      refusedChannelRequests: z.number().int().nonnegative().optional(),
      now: z.number().int(),
    }),
  }),
  'hot.event': define({
    from: 'cold',
    description: 'something notable happened on HSM-Cold (channel changes, alerts, refusals)',
    request: z.strictObject({
      kind: z.enum(COLD_EVENT_KINDS),
      at: z.number().int(),
      details: z.record(z.string().max(64), z.union([z.string().max(512), z.number(), z.boolean(), z.null()])),
    }),
    reply: z.strictObject({}),
  }),
  'audit.witness': define({
    from: 'either',
    description: "the sender's newest signed audit head; the peer checks the signature with the identity it pinned at pairing and records the head in its own audit log (audit-witness.ts)",
    request: z.strictObject({
      app: z.string().min(1).max(32),
      seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      hash: z.string().regex(/^[0-9a-f]{64}$/),
      at: z.number().nonnegative(),
      signature: z.string().min(1).max(128),
    }),
    /** The peer's audit entry that records the head. */
    reply: z.strictObject({ entry: z.number().int().min(1) }),
  }),
} as const satisfies MessageRegistry;

export const DEVICE_MESSAGES: MessageRegistry = { ...LINK_MESSAGES, ...DEVICE_LINK_MESSAGES };

export type RequestOf<R extends MessageRegistry, T extends keyof R> = R[T] extends MessageDef<infer Q, unknown> ? Q : never;
export type ReplyOf<R extends MessageRegistry, T extends keyof R> = R[T] extends MessageDef<unknown, infer P> ? P : never;

const errorSchema = z.strictObject({ code: z.string().min(1).max(64), message: z.string().max(512), field: z.string().max(128).optional() });
export type WireError = z.infer<typeof errorSchema>;

const envelopeSchema = z.discriminatedUnion('k', [
  z.strictObject({ v: z.literal(ENVELOPE_VERSION), k: z.literal('req'), rid: requestId, t: typeName, w: requestId, b: z.unknown() }),
  z.strictObject({
    v: z.literal(ENVELOPE_VERSION),
    k: z.literal('res'),
    rid: requestId,
    t: typeName,
    ok: z.boolean(),
    b: z.unknown().optional(),
    e: errorSchema.optional(),
    r: z.union([z.literal(0), z.literal(1)]).optional(),
  }),
]);

export type RequestEnvelope = { k: 'req'; rid: number; t: string; w: number; b: unknown };
export type ReplyEnvelope =
  | { k: 'res'; rid: number; t: string; ok: true; b: unknown }
  | { k: 'res'; rid: number; t: string; ok: false; e: WireError; r: 0 | 1 };
export type Envelope = RequestEnvelope | ReplyEnvelope;

function firstIssue(error: z.ZodError): { path: string; message: string } {
  const issue = error.issues[0];
  return { path: issue?.path.join('.') ?? '', message: issue?.message ?? 'invalid' };
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const bytes = packr.pack({ v: ENVELOPE_VERSION, ...envelope });
  if (bytes.length > MAX_MESSAGE) throw new HsmError('MSG_TOO_LARGE', `message of ${bytes.length} bytes exceeds ${MAX_MESSAGE}`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes and checks an envelope (not its body: see `checkBody`). */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length > MAX_MESSAGE) throw new HsmError('MSG_TOO_LARGE', `message of ${bytes.length} bytes exceeds ${MAX_MESSAGE}`);
  checkMsgpack(bytes);
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch (cause) {
    throw new HsmError('MSG_MALFORMED', 'msgpack decoding failed', { cause });
  }
  const parsed = envelopeSchema.safeParse(decoded);
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error);
    throw new HsmError('MSG_ENVELOPE', `envelope${path === '' ? '' : `.${path}`}: ${message}`, { field: path || 'envelope' });
  }
  const e = parsed.data;
  if (e.k === 'req') {
    // w is the requester's lowest unanswered rid, and this request is unanswered.
    if (e.w > e.rid) throw new HsmError('MSG_ENVELOPE', `envelope.w (${e.w}) is above the request id (${e.rid})`, { field: 'w' });
    return { k: 'req', rid: e.rid, t: e.t, w: e.w, b: e.b };
  }
  if (e.ok) return { k: 'res', rid: e.rid, t: e.t, ok: true, b: e.b };
  if (e.e === undefined || e.r === undefined) {
    throw new HsmError('MSG_ENVELOPE', 'a refusal must carry e and r', { field: 'e' });
  }
  return { k: 'res', rid: e.rid, t: e.t, ok: false, e: e.e, r: e.r };
}

/** Validates a request or reply body against its type's schema; names the bad field. */
export function checkBody<T>(registry: MessageRegistry, type: string, part: 'request' | 'reply', body: unknown): T {
  const def = registry[type];
  if (def === undefined) throw new HsmError('MSG_UNKNOWN_TYPE', `unknown message type "${type}"`, { field: 't' });
  const parsed = def[part].safeParse(body);
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error);
    throw new HsmError('MSG_SCHEMA', `${type} ${part}${path === '' ? '' : `.${path}`}: ${message}`, { field: path || part });
  }
  return parsed.data as T;
}

/** msgpack of a body alone (stored in the outbox and applied tables). */
export function packBody(body: unknown): Uint8Array {
  const bytes = packr.pack(body);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function unpackBody(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
