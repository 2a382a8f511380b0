/**
 * The rig's control server (loopback only): the event stream, the world's status, and the
 * levers a test or a person pulls: advance time, inject faults, queue work on vweb, send an
 * SMS from any number.
 *
 *   GET  /status                 world time, devices, channel, modems, queues, chain
 *   GET  /events[?since=<seq>]   server-sent events (events.ts); Last-Event-ID resumes
 *   POST /control/advance        {"ms": 600000} | {"to": "2026-03-10T15:30:00Z"}
 *                                at most 31 days at a time, never backwards, and never past
 *                                WORLD_TIME_LIMIT (the firmware's SMS time stamps end in 2089)
 *   POST /control/fault          {"fault": "carrier", "carrier": "A", "up": false}
 *                                {"fault": "modem", "sim": 1, "plugged": false}
 *                                {"fault": "link-noise", "bitFlipRate": 0.001}
 *                                {"fault": "sms-loss", "carrier": "B", "lossRate": 0.2}
 *                                {"fault": "kill", "device": "hot" | "cold"}   (--processes)
 *   POST /control/withdrawal     {"outs": "1Nbb...,10000", "dynamic": 0}  → {"vtest_id": 3}
 *   POST /control/batch          {"wallet": "cold", "batch_no": 0}          → {"queued": true}
 *   POST /control/sms            {"from": "+86...", "to": "+86...", "text": "PING"}
 *   GET  /dashboard/             the live dashboard (dashboard/routes.ts)
 *
 * Bodies are JSON, checked by schema. Every error, the server's own included (unknown path,
 * body too large, wrong media type, bad URL), has the Open API's shape
 * `{"errors":[{"field"?,"message","code"}]}` with the code of its status (CONTROL_ERRORS).
 * @module
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { vtestPayloadSchema } from '../../shared/crypto/vtest-cipher.ts';
import { HsmError } from '../../shared/errors.ts';
import type { EventBus } from './events.ts';
import type { ErrorBody } from './host/gateway-errors.ts';
import { WORLD_TIME_RANGE } from './world-config.ts';

const phone = z.string().regex(/^\+[1-9][0-9]{5,14}$/, 'an E.164 number');

export const faultSchema = z.discriminatedUnion('fault', [
  z.strictObject({ fault: z.literal('carrier'), carrier: z.string().min(1).max(8), up: z.boolean() }),
  z.strictObject({ fault: z.literal('modem'), sim: z.union([z.literal(1), z.literal(2)]), plugged: z.boolean() }),
  z.strictObject({ fault: z.literal('link-noise'), bitFlipRate: z.number().min(0).max(0.1) }),
  z.strictObject({ fault: z.literal('sms-loss'), carrier: z.string().min(1).max(8), lossRate: z.number().min(0).max(1) }),
  z.strictObject({ fault: z.literal('kill'), device: z.enum(['hot', 'cold']) }),
]);
export type Fault = z.infer<typeof faultSchema>;

/** The furthest one advance may move world time. */
export const MAX_ADVANCE_MS = 31 * 24 * 3_600_000;
/** The last world time the firmware can represent (world-config.ts). */
export const WORLD_TIME_LIMIT = WORLD_TIME_RANGE.last;

const advanceSchema = z.union([
  z.strictObject({ ms: z.number().int().min(0).max(MAX_ADVANCE_MS) }),
  z.strictObject({ to: z.iso.datetime({ offset: true }) }),
]);
/** A withdrawal for vweb: the vtest_info payload, snake_case as the app reads it. */
const withdrawalSchema = vtestPayloadSchema.extend({ dynamic: z.union([z.literal(0), z.literal(1)]).default(1) });

/** Error codes by status, after the Open API's table (gateway-errors.ts): the same shape and the same input code. */
export const CONTROL_ERRORS = {
  400: { code: 40001, text: 'input error' },
  404: { code: 1000, text: 'no such resource' },
  413: { code: 41301, text: 'the body is larger than 64 KiB' },
  415: { code: 41501, text: 'send the body as application/json' },
  500: { code: 500, text: 'internal server error' },
} as const;
type ControlStatus = keyof typeof CONTROL_ERRORS;

function errorReply(status: ControlStatus, message: string = CONTROL_ERRORS[status].text, field?: string): { status: ControlStatus; body: ErrorBody } {
  return { status, body: { errors: [{ ...(field === undefined ? {} : { field }), message, code: CONTROL_ERRORS[status].code }] } };
}
const batchSchema = z.strictObject({ wallet: z.enum(['hot', 'cold']), batch_no: z.number().int().min(0).max(2_147_482) });
const smsSchema = z.strictObject({ from: phone, to: phone, text: z.string().min(1).max(480) });

export interface ControlHandlers {
  /** World time (Unix ms). */
  now(): number;
  status(): Promise<Record<string, unknown>>;
  /** Moves world time forward by `ms` (checked: within the bounds above). */
  advance(ms: number): Promise<{ now: string }>;
  fault(fault: Fault): Promise<void>;
  withdrawal(w: z.infer<typeof withdrawalSchema>): Promise<number>;
  batch(b: z.infer<typeof batchSchema>): Promise<void>;
  sms(m: z.infer<typeof smsSchema>): Promise<void>;
}

function inputError(field: string, message: string): HsmError {
  return new HsmError('CONTROL_INPUT', `${field}: ${message}`, { field });
}

/** How far to move world time for an advance request; refuses what the world cannot do. */
function advanceBy(body: z.infer<typeof advanceSchema>, now: number): number {
  const field = 'ms' in body ? 'ms' : 'to';
  const ms = 'ms' in body ? body.ms : Date.parse(body.to) - now;
  if (ms < 0) throw inputError(field, `is before the world time ${new Date(now).toISOString()}; world time only goes forward`);
  if (ms > MAX_ADVANCE_MS) throw inputError(field, `is more than ${MAX_ADVANCE_MS / 86_400_000} days ahead of the world time; advance in steps`);
  if (now + ms > WORLD_TIME_LIMIT) {
    throw inputError(field, `would take the world past ${new Date(WORLD_TIME_LIMIT).toISOString()}, the last time the firmware can represent (SMS time stamps end in 2089)`);
  }
  return ms;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw inputError(field, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

export class ControlServer {
  private readonly app: FastifyInstance;

  constructor(events: EventBus, handlers: ControlHandlers) {
    // Event streams never go idle: closing the server ends them.
    this.app = Fastify({
      logger: false,
      bodyLimit: 64 * 1024,
      forceCloseConnections: true,
      // Errors the router raises before any handler (a URL that does not decode).
      frameworkErrors: (error, _request, reply) => {
        const { status, body } = toErrorReply(error);
        void (reply as FastifyReply).code(status).send(body);
      },
    });
    // Bodies are JSON only: anything else is a 415.
    this.app.removeContentTypeParser('text/plain');
    this.app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
      const { status, body } = toErrorReply(error);
      return reply.code(status).send(body);
    });
    this.app.setNotFoundHandler((request, reply) => {
      const { status, body } = errorReply(404, `no such endpoint: ${request.method} ${request.url.split('?')[0]}`);
      return reply.code(status).send(body);
    });
    this.app.get('/status', () => handlers.status());
    this.app.get('/events', (request, reply) => events.serveSse(request, reply));
    this.app.post('/control/advance', async (request) => handlers.advance(advanceBy(parse(advanceSchema, request.body), handlers.now())));
    this.app.post('/control/fault', async (request) => {
      await handlers.fault(parse(faultSchema, request.body));
      return { result: true };
    });
    this.app.post('/control/withdrawal', async (request) => ({ vtest_id: await handlers.withdrawal(parse(withdrawalSchema, request.body)) }));
    this.app.post('/control/batch', async (request) => {
      await handlers.batch(parse(batchSchema, request.body));
      return { queued: true };
    });
    this.app.post('/control/sms', async (request) => {
      await handlers.sms(parse(smsSchema, request.body));
      return { result: true };
    });
  }

  /** Adds routes (the dashboard, dashboard/routes.ts) before the server listens. */
  extend(register: (app: FastifyInstance) => void): void {
    register(this.app);
  }

  listen(host: string, port: number): Promise<string> {
    return this.app.listen({ host, port });
  }

  close(): Promise<void> {
    return this.app.close();
  }
}

/**
 * The reply for an error: input errors (HsmError, Fastify's 400s: bad JSON, bad URL) are 400;
 * Fastify's 404, 413 and 415 keep their status; anything else is a 500 that says nothing more.
 */
function toErrorReply(error: Error & { statusCode?: number; code?: string }): { status: ControlStatus; body: ErrorBody } {
  if (error instanceof HsmError) return errorReply(400, error.message, error.field);
  const status = error.statusCode;
  if (status === 404 || status === 413 || status === 415) return errorReply(status);
  if (status !== undefined && status >= 400 && status < 500) return errorReply(400, error.message, error.code === 'FST_ERR_BAD_URL' ? 'url' : 'body');
  return errorReply(500);
}
