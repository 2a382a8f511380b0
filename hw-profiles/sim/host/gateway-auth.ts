/**
 * Who may call the Open API: the `token` header names a credential (spec §"Platform Open
 * API"); a credential with a secret also requires DiQi-style signed requests
 * (spec/seeds/diqi-api.txt §"API Key"):
 *
 *   CC-ACCESS-TIMESTAMP: <seconds since the Unix epoch>
 *   CC-ACCESS-SIGNATURE: hex(HMAC-SHA256(secret, METHOD + path_with_query + body + timestamp))
 *
 * The timestamp must be within `windowSeconds` of the gateway's clock, and a signature is
 * accepted once (a replay cache keeps each one until its timestamp leaves the window).
 * Each credential also has a request budget (token bucket).
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../shared/clock.ts';
import { GatewayError } from './gateway-errors.ts';

export const TIMESTAMP_HEADER = 'cc-access-timestamp';
export const SIGNATURE_HEADER = 'cc-access-signature';

export const GATEWAY_SCOPES = ['user:read', 'address:read', 'tx:read', 'tx:create'] as const;
export type GatewayScope = (typeof GATEWAY_SCOPES)[number];

/** Hot Sending credentials see the hot wallet; Cold Receiving ones the cold receiving wallet. */
export type TokenKind = 'hot-sending' | 'cold-receiving';

export interface GatewayToken {
  token: string;
  kind: TokenKind;
  userId: number;
  userName: string;
  scopes: readonly GatewayScope[];
  /** When set, every request must be signed with it. */
  secret?: string;
}

export interface AuthOptions {
  clock: Clock;
  tokens: readonly GatewayToken[];
  windowSeconds?: number;
  /** Requests per minute per credential (burst the same). Default 600. */
  perMinute?: number;
  /** Most signatures remembered at once. Default 100,000. */
  replayCapacity?: number;
}

export interface RequestFacts {
  method: string;
  /** Path with the query string, as sent. */
  url: string;
  rawBody: string;
  header(name: string): string | undefined;
}

export function signRequest(secret: string, method: string, url: string, body: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${method.toUpperCase()}${url}${body}${timestamp}`).digest('hex');
}

export class GatewayAuth {
  private readonly byToken = new Map<string, GatewayToken>();
  private readonly seen = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly windowMs: number;

  constructor(private readonly o: AuthOptions) {
    for (const t of o.tokens) this.byToken.set(t.token, t);
    this.windowMs = (o.windowSeconds ?? 300) * 1000;
  }

  /** The credential a request carries, checked; throws GatewayError (401/403/429). */
  authenticate(request: RequestFacts, scope: GatewayScope): GatewayToken {
    const presented = request.header('token');
    const credential = presented === undefined ? undefined : this.byToken.get(presented);
    if (credential === undefined) {
      throw new GatewayError('UNAUTHORIZED', presented === undefined ? 'the token header is missing' : 'the token is not known', 'token');
    }
    if (credential.secret !== undefined) this.checkSignature(credential.secret, request);
    this.spend(credential.token);
    if (!credential.scopes.includes(scope)) throw new GatewayError('SCOPE_MISSING', `this needs the scope ${scope}`, 'token');
    return credential;
  }

  private checkSignature(secret: string, request: RequestFacts): void {
    const stamp = request.header(TIMESTAMP_HEADER);
    const given = request.header(SIGNATURE_HEADER);
    if (stamp === undefined || !/^[0-9]{1,12}$/.test(stamp)) {
      throw new GatewayError('UNAUTHORIZED', `a signed credential needs a ${TIMESTAMP_HEADER} header in seconds`, TIMESTAMP_HEADER);
    }
    if (given === undefined || !/^[0-9a-f]{64}$/i.test(given)) {
      throw new GatewayError('UNAUTHORIZED', `a signed credential needs a ${SIGNATURE_HEADER} header (64 hex digits)`, SIGNATURE_HEADER);
    }
    const timestamp = Number(stamp);
    const now = this.o.clock.now();
    if (Math.abs(timestamp * 1000 - now) > this.windowMs) {
      throw new GatewayError('TIMESTAMP_OUTSIDE_WINDOW', `the timestamp is more than ${this.windowMs / 1000} s from the server time`, TIMESTAMP_HEADER);
    }
    const expected = Buffer.from(signRequest(secret, request.method, request.url, request.rawBody, timestamp), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) throw new GatewayError('SIGNATURE_INVALID', undefined, SIGNATURE_HEADER);
    this.forgetExpired(now);
    const key = given.toLowerCase();
    if (this.seen.has(key)) throw new GatewayError('SIGNATURE_REPLAYED', undefined, SIGNATURE_HEADER);
    if (this.seen.size >= (this.o.replayCapacity ?? 100_000)) throw new GatewayError('RATE_LIMITED', 'too many signed requests in the window');
    this.seen.set(key, timestamp * 1000 + this.windowMs);
  }

  private forgetExpired(now: number): void {
    // Insertion order is close to expiry order; stop at the first entry still in the window.
    for (const [key, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(key);
    }
  }

  private spend(token: string): void {
    const perMinute = this.o.perMinute ?? 600;
    const now = this.o.clock.monotonic();
    const bucket = this.buckets.get(token) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(token, bucket);
      throw new GatewayError('RATE_LIMITED', `more than ${perMinute} requests a minute`, 'token');
    }
    bucket.tokens -= 1;
    this.buckets.set(token, bucket);
  }
}
