import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { GatewayAuth, signRequest, type GatewayToken } from '../../hw-profiles/sim/host/gateway-auth.ts';
import type { GatewayError } from '../../hw-profiles/sim/host/gateway-errors.ts';

const PLAIN: GatewayToken = { token: 'plain', kind: 'hot-sending', userId: 1, userName: 'p', scopes: ['user:read', 'tx:read'] };
const SIGNED: GatewayToken = { token: 'signed', kind: 'cold-receiving', userId: 2, userName: 's', scopes: ['user:read'], secret: 's3cret' };

function request(headers: Record<string, string>, url = '/api/v1/open/user', method = 'GET', rawBody = '') {
  return { method, url, rawBody, header: (name: string) => headers[name] };
}

function failure(fn: () => unknown): { code: string; apiCode: number; field: string | undefined } {
  try {
    fn();
  } catch (error) {
    const e = error as GatewayError;
    return { code: e.code, apiCode: e.apiCode, field: e.field };
  }
  throw new Error('expected a refusal');
}

describe('Open API credentials', () => {
  it('signs METHOD + path + body + timestamp with HMAC-SHA256, as the DiQi seed describes', () => {
    const expected = createHmac('sha256', 'key').update('POST/api/v1/open/tx/requesta=1&b=21459936762').digest('hex');
    expect(signRequest('key', 'post', '/api/v1/open/tx/request', 'a=1&b=2', 1459936762)).toBe(expected);
  });

  it('limits each credential to its budget of requests a minute, refilling with time', () => {
    const clock = new SimulatedClock();
    const auth = new GatewayAuth({ clock, tokens: [PLAIN], perMinute: 5 });
    for (let i = 0; i < 5; i++) auth.authenticate(request({ token: 'plain' }), 'user:read');
    expect(failure(() => auth.authenticate(request({ token: 'plain' }), 'user:read'))).toMatchObject({ code: 'RATE_LIMITED', apiCode: 1600 });
    clock.advanceSync(12_000);
    expect(auth.authenticate(request({ token: 'plain' }), 'user:read').userId).toBe(1);
    expect(failure(() => auth.authenticate(request({ token: 'plain' }), 'user:read')).code).toBe('RATE_LIMITED');
  });

  it('checks the scope after the credential', () => {
    const auth = new GatewayAuth({ clock: new SimulatedClock(), tokens: [PLAIN] });
    expect(failure(() => auth.authenticate(request({ token: 'plain' }), 'tx:create'))).toEqual({ code: 'SCOPE_MISSING', apiCode: 1300, field: 'token' });
  });

  it('accepts a signature once, whatever its letter case, and forgets it when its window has passed', () => {
    const clock = new SimulatedClock({ start: 1_700_000_000_000 });
    const auth = new GatewayAuth({ clock, tokens: [SIGNED], windowSeconds: 60, replayCapacity: 2 });
    const at = (t: number, upper = false) => {
      const signature = signRequest('s3cret', 'GET', '/api/v1/open/user', '', t);
      return request({ token: 'signed', 'cc-access-timestamp': String(t), 'cc-access-signature': upper ? signature.toUpperCase() : signature });
    };
    const now = 1_700_000_000;
    auth.authenticate(at(now), 'user:read');
    expect(failure(() => auth.authenticate(at(now, true), 'user:read')).code).toBe('SIGNATURE_REPLAYED');
    auth.authenticate(at(now + 1), 'user:read');
    // The cache is full: a third signature within the window is refused rather than forgotten.
    expect(failure(() => auth.authenticate(at(now + 2), 'user:read')).code).toBe('RATE_LIMITED');
    clock.advanceSync(62_000);
    auth.authenticate(at(now + 62), 'user:read');
    expect(failure(() => auth.authenticate(at(now + 1), 'user:read')).code).toBe('TIMESTAMP_OUTSIDE_WINDOW');
  });

  it('names the header that is missing or malformed', () => {
    const auth = new GatewayAuth({ clock: new SimulatedClock(), tokens: [SIGNED] });
    expect(failure(() => auth.authenticate(request({ token: 'signed', 'cc-access-timestamp': 'soon' }), 'user:read')).field).toBe('cc-access-timestamp');
    expect(failure(() => auth.authenticate(request({ token: 'signed', 'cc-access-timestamp': '1', 'cc-access-signature': 'abc' }), 'user:read')).field).toBe('cc-access-signature');
  });
});
