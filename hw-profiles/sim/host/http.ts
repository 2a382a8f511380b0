/**
 * Small pieces the simulated web services (the Open API gateway, vweb) share: the seed's time
 * format, a parser for form-encoded bodies (the Open API's `POST tx/request` and vweb's
 * reports are forms), and one error form for everything they refuse, the project's
 * `{"errors":[{"field","message","code"}]}` (gateway-errors.ts), Fastify's own errors included
 * (a URL that is not valid percent-encoding, a body of another type, an unknown path).
 * @module
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { silentLogger, type Logger } from '../../../shared/log.ts';
import { GatewayError, errorBody } from './gateway-errors.ts';

const rawBodies = new WeakMap<FastifyRequest, string>();
export const BODY_LIMIT = 64 * 1024;

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

function sendError(reply: FastifyReply, error: GatewayError): FastifyReply {
  return reply.code(error.status).send(errorBody(error));
}

/**
 * A Fastify app whose every refusal has the project's error form: the handlers' GatewayErrors,
 * Fastify's client errors, framework errors such as a bad URL encoding, and unknown paths;
 * anything unexpected is logged and answered 500 without details.
 */
export function webApp(log: Logger = silentLogger): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Errors Fastify raises before routing (FST_ERR_BAD_URL and the like) skip the error handler.
    frameworkErrors: (error, request, reply) => {
      const message = error.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid percent-encoding' : `the request is malformed: ${error.message}`;
      log.debug({ code: error.code, method: request.method }, 'malformed request');
      void sendError(reply, new GatewayError('INPUT', message, 'url'));
    },
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof GatewayError) return sendError(reply, error);
    if (error.statusCode !== undefined && error.statusCode < 500) {
      const message =
        error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'send the form as application/x-www-form-urlencoded'
          : error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? `the body is larger than ${BODY_LIMIT} bytes`
            : error.message;
      return sendError(reply, new GatewayError('INPUT', message, 'body'));
    }
    log.error({ err: error.message }, 'request failed');
    return sendError(reply, new GatewayError('INTERNAL'));
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new GatewayError('NOT_FOUND', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`)));
  return app;
}

/**
 * Bodies as `application/x-www-form-urlencoded` only: a field given twice, or named
 * `__proto__`, is refused (naming it) rather than merged or dropped.
 */
export function registerFormParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    rawBodies.set(request, body as string);
    const fields: Record<string, string> = Object.create(null);
    for (const [key, value] of new URLSearchParams(body as string)) {
      if (key === '__proto__') {
        done(new GatewayError('INPUT', 'a field named __proto__ is not allowed', key), undefined);
        return;
      }
      if (Object.hasOwn(fields, key)) {
        done(new GatewayError('INPUT', `field ${key} appears twice`, key), undefined);
        return;
      }
      fields[key] = value;
    }
    done(null, fields);
  });
}
