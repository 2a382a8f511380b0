/**
 * The rig's control server (loopback only): the event stream, the world's status, and the
 * levers a test or a person pulls: advance time, inject faults, queue work on vweb, send an
 * SMS from any number.
 *
 *   GET  /status                 world time, devices, channel, modems, queues, chain
 *   GET  /events[?since=<seq>]   server-sent events (events.ts); Last-Event-ID resumes
 *   POST /control/advance        {"ms": 600000} | {"to": "2026-03-10T15:30:00Z"}
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
 * Bodies are JSON, checked by schema; errors use the Open API's `{"errors":[...]}` shape.
 * @module
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { vtestPayloadSchema } from '../../shared/crypto/vtest-cipher.ts';
import { HsmError } from '../../shared/errors.ts';
import type { EventBus } from './events.ts';

const phone = z.string().regex(/^\+[1-9][0-9]{5,14}$/, 'an E.164 number');

export const faultSchema = z.discriminatedUnion('fault', [
  z.strictObject({ fault: z.literal('carrier'), carrier: z.string().min(1).max(8), up: z.boolean() }),
  z.strictObject({ fault: z.literal('modem'), sim: z.union([z.literal(1), z.literal(2)]), plugged: z.boolean() }),
  z.strictObject({ fault: z.literal('link-noise'), bitFlipRate: z.number().min(0).max(0.1) }),
  z.strictObject({ fault: z.literal('sms-loss'), carrier: z.string().min(1).max(8), lossRate: z.number().min(0).max(1) }),
  z.strictObject({ fault: z.literal('kill'), device: z.enum(['hot', 'cold']) }),
]);
export type Fault = z.infer<typeof faultSchema>;

const advanceSchema = z.union([
  z.strictObject({ ms: z.number().int().min(0).max(31 * 24 * 3_600_000) }),
  z.strictObject({ to: z.iso.datetime({ offset: true }) }),
]);
/** A withdrawal for vweb: the vtest_info payload, snake_case as the app reads it. */
const withdrawalSchema = vtestPayloadSchema.extend({ dynamic: z.union([z.literal(0), z.literal(1)]).default(1) });
const batchSchema = z.strictObject({ wallet: z.enum(['hot', 'cold']), batch_no: z.number().int().min(0).max(2_147_482) });
const smsSchema = z.strictObject({ from: phone, to: phone, text: z.string().min(1).max(480) });

export interface ControlHandlers {
  status(): Promise<Record<string, unknown>>;
  advance(to: { ms: number } | { to: number }): Promise<{ now: string }>;
  fault(fault: Fault): Promise<void>;
  withdrawal(w: z.infer<typeof withdrawalSchema>): Promise<number>;
  batch(b: z.infer<typeof batchSchema>): Promise<void>;
  sms(m: z.infer<typeof smsSchema>): Promise<void>;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw new HsmError('CONTROL_INPUT', `${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  return parsed.data;
}

export class ControlServer {
  private readonly app: FastifyInstance;

  constructor(events: EventBus, handlers: ControlHandlers) {
    // Event streams never go idle: closing the server ends them.
    this.app = Fastify({ logger: false, bodyLimit: 64 * 1024, forceCloseConnections: true });
    this.app.setErrorHandler((error: Error & { statusCode?: number; field?: string }, _request, reply) => {
      const status = error instanceof HsmError ? 400 : (error.statusCode ?? 500);
      const field = error instanceof HsmError ? error.field : undefined;
      return reply.code(status).send({ errors: [{ ...(field === undefined ? {} : { field }), message: error.message, code: status === 400 ? 40001 : 500 }] });
    });
    this.app.get('/status', () => handlers.status());
    this.app.get('/events', (request, reply) => events.serveSse(request, reply));
    this.app.post('/control/advance', async (request) => {
      const body = parse(advanceSchema, request.body);
      return handlers.advance('ms' in body ? body : { to: Date.parse(body.to) });
    });
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
