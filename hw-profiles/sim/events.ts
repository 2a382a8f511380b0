/**
 * The rig's event stream: everything notable in the simulated world, numbered, with the world
 * time, kept in a bounded ring and pushed to subscribers (server-sent events on the control
 * server, `GET /events`, resumable with `Last-Event-ID` or `?since=`).
 *
 *   id: 42
 *   event: sms.delivered
 *   data: {"seq":42,"at":"2026-03-10T15:05:02.114Z","type":"sms.delivered","from":"+86...","to":"+86...","kind":"channel-reply","text":"CC:QC:..."}
 *
 * SMS bodies: the app protocol's texts carry only public keys, signatures and numbers and are
 * shown; administrator alerts and the app's admin commands are shown; any other text could hold
 * anything (a PIN typed into the wrong phone) and is replaced by its length.
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_ADMIN_COMMANDS, APP_TEXTS, SMS_PREFIX, parseColdMessage, parseVDeviceMessage } from '../../shared/chaincloud/sms.ts';
import type { Clock } from '../../shared/clock.ts';

export interface WorldEvent {
  seq: number;
  /** World time, ISO 8601. */
  at: string;
  type: string;
  [detail: string]: unknown;
}

export class EventBus {
  private readonly ring: WorldEvent[] = [];
  private seq = 0;
  private readonly listeners = new Set<(event: WorldEvent) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly capacity = 10_000,
  ) {}

  publish(type: string, details: Record<string, unknown> = {}): WorldEvent {
    const event: WorldEvent = { ...details, seq: ++this.seq, at: new Date(this.clock.now()).toISOString(), type };
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const l of this.listeners) l(event);
    return event;
  }

  subscribe(listener: (event: WorldEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `seq` still in the ring, oldest first. */
  since(seq = 0): WorldEvent[] {
    return this.ring.filter((e) => e.seq > seq);
  }

  /** The first event (from the ring or later) that satisfies `predicate`. */
  find(predicate: (event: WorldEvent) => boolean, since = 0): WorldEvent | undefined {
    return this.ring.find((e) => e.seq > since && predicate(e));
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Serves the stream as server-sent events until the client goes away. */
  serveSse(request: FastifyRequest, reply: FastifyReply): void {
    const lastId = Number(request.headers['last-event-id'] ?? (request.query as { since?: string }).since ?? 0);
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    out.write(': hsm sim events\n\n');
    const send = (event: WorldEvent): void => void out.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    for (const event of this.since(Number.isSafeInteger(lastId) ? lastId : 0)) send(event);
    const unsubscribe = this.subscribe(send);
    const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  }
}

/** What the event stream shows of an SMS: its protocol kind and, where it is public, the text. */
export function describeSms(text: string): { kind: string; text: string } {
  for (const parse of [parseVDeviceMessage, parseColdMessage]) {
    try {
      return { kind: parse(text).kind, text };
    } catch {
      // not this direction's message
    }
  }
  if (text.startsWith('HSM-COLD ALERT: ')) return { kind: 'alert', text };
  if (text.startsWith('CC:V:') || (Object.values(APP_TEXTS) as string[]).includes(text)) return { kind: text === APP_TEXTS.formatError ? 'format-error' : 'app-reply', text };
  if (text.startsWith(SMS_PREFIX) && (APP_ADMIN_COMMANDS as readonly string[]).includes(text.slice(SMS_PREFIX.length))) return { kind: 'admin-command', text };
  return { kind: 'other', text: `[${text.length} characters]` };
}
