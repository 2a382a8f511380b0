/**
 * Small pieces the simulated web services share: the seed's time format and a parser for
 * form-encoded bodies (the Open API's `POST tx/request` and vweb's reports are forms).
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

const rawBodies = new WeakMap<FastifyRequest, string>();

/** The body exactly as received ('' when there was none): what a request signature covers. */
export function rawBody(request: FastifyRequest): string {
  return rawBodies.get(request) ?? '';
}

/**
 * Time as the seed's API prints it: `2016-08-02T12:51:34.460394` (UTC, no zone; the `time`
 * endpoint has microseconds, other fields whole seconds).
 */
export function apiTime(epochMs: number, withFraction: boolean): string {
  const iso = new Date(epochMs).toISOString(); // 2016-08-02T12:51:34.460Z
  const seconds = iso.slice(0, 19);
  return withFraction ? `${seconds}.${iso.slice(20, 23)}000` : seconds;
}

export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (request, body, done) => {
    rawBodies.set(request, body as string);
    const fields: Record<string, string> = {};
    for (const [key, value] of new URLSearchParams(body as string)) {
      if (Object.hasOwn(fields, key)) {
        done(Object.assign(new Error(`field ${key} appears twice`), { statusCode: 400 }), undefined);
        return;
      }
      fields[key] = value;
    }
    done(null, fields);
  });
}
