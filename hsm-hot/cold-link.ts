/**
 * What HSM-Hot keeps of HSM-Cold besides approvals: its account xpubs (exchanged once after
 * pairing with `cold.pin-xpubs`), the latest `cold.status` answer, and the events HSM-Cold
 * reports (`hot.event`), which are journalled and pushed to subscribers. It also answers the
 * link's diagnostics (`link.echo`, `link.time`).
 * @module
 */
import { z } from 'zod';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { silentLogger } from '../shared/log.ts';
import { DEVICE_LINK_MESSAGES, type ReplyOf, type RequestOf } from '../shared/link/messages.ts';
import { RPC_COLLECTIONS, type RpcEndpoint } from '../shared/link/rpc.ts';
import { defineCollection } from '../shared/store/collection.ts';
import type { DeviceStore } from '../shared/store/store.ts';
import { coldAccountsCollection, hotAccountsCollection, storeColdAccounts } from './accounts.ts';
import type { Journal, JsonData } from './journal.ts';
import { apiTime } from './api-wire.ts';

type StatusReply = ReplyOf<typeof DEVICE_LINK_MESSAGES, 'cold.status'>;
type ColdEvent = RequestOf<typeof DEVICE_LINK_MESSAGES, 'hot.event'>;
type PinXpubs = RequestOf<typeof DEVICE_LINK_MESSAGES, 'cold.pin-xpubs'>;
type PinXpubsReply = ReplyOf<typeof DEVICE_LINK_MESSAGES, 'cold.pin-xpubs'>;

export const coldStatusCollection = defineCollection(
  'hot.cold-status',
  z.strictObject({ at: z.number(), status: DEVICE_LINK_MESSAGES['cold.status'].reply }),
);
export const coldEventCollection = defineCollection('hot.cold-event', DEVICE_LINK_MESSAGES['hot.event'].request);
const LATEST = 'latest';

export interface ColdLinkOptions {
  store: DeviceStore;
  journal: Journal;
  clock: Clock;
  log?: Logger;
}

function outboxHas(store: DeviceStore, type: string): boolean {
  for (const { value } of store.range(RPC_COLLECTIONS.outbox)) if (value.type === type) return true;
  return false;
}

export class ColdLink {
  private readonly options: ColdLinkOptions;
  private readonly log: Logger;
  private rpc: RpcEndpoint | undefined;
  private isUp: () => boolean = () => false;
  private readonly statusWaiters = new Set<() => void>();

  constructor(options: ColdLinkOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
  }

  /** Registers handlers and reply hooks (before the endpoint starts). */
  attachLink(rpc: RpcEndpoint, isUp: () => boolean): void {
    this.rpc = rpc;
    this.isUp = isUp;
    // The link's own diagnostics; HSM-Hot is online, so its clock is HSM-Cold's time source.
    rpc.handle<{ data: Uint8Array }, { data: Uint8Array }>('link.echo', (body) => ({ data: body.data }));
    rpc.handle<Record<string, never>, { now: number }>('link.time', () => ({ now: this.options.clock.now() }));
    rpc.handle<ColdEvent, Record<string, never>>('hot.event', (event, { tx }) => {
      tx.put(coldEventCollection, LATEST, event);
      tx.audit('cold.event', { kind: event.kind });
      this.options.journal.append(tx, { msg: 'event', topic: 'events', data: { kind: event.kind, at: apiTime(event.at), details: event.details } });
      return {};
    });
    rpc.onReply<Record<string, never>, StatusReply>('cold.status', (_request, outcome, { tx }) => {
      if (outcome.ok) tx.put(coldStatusCollection, LATEST, { at: this.options.clock.now(), status: outcome.body });
      tx.afterCommit(() => {
        for (const wake of [...this.statusWaiters]) wake();
      });
    });
    rpc.onReply<PinXpubs, PinXpubsReply>('cold.pin-xpubs', (_request, outcome, { tx }) => {
      if (outcome.ok) {
        storeColdAccounts(tx, outcome.body.accounts);
        tx.audit('pairing.cold-xpubs', { accounts: outcome.body.accounts.length });
      } else {
        tx.audit('alert.cold-xpubs-refused', { code: outcome.error.code });
        this.log.error({ code: outcome.error.code }, 'HSM-Cold refused the account key exchange');
      }
    });
  }

  detachLink(): void {
    this.rpc = undefined;
    this.isUp = () => false;
  }

  /** At boot: sends the hot xpubs once, until HSM-Cold's have arrived. */
  resume(): void {
    const { store } = this.options;
    if (this.rpc === undefined || store.count(coldAccountsCollection) > 0 || outboxHas(store, 'cold.pin-xpubs')) return;
    const accounts: PinXpubs['accounts'] = [...store.range(hotAccountsCollection)].map(({ value }) => ({
      coin: value.coin,
      network: value.network,
      type: value.type,
      account: value.account,
      xpub: value.xpub,
    }));
    if (accounts.length === 0) return;
    this.rpc.call('cold.pin-xpubs', { accounts }).catch(() => undefined);
  }

  /** True once HSM-Cold's account xpubs are stored. */
  get hasColdAccounts(): boolean {
    return this.options.store.count(coldAccountsCollection) > 0;
  }

  /**
   * HSM-Cold's channel state for `channel_status`: asked afresh when the link is up (waiting
   * at most `waitMs`), otherwise the last answer and the last channel event.
   */
  async status(waitMs: number): Promise<JsonData> {
    const { store, clock } = this.options;
    const rpc = this.rpc;
    let fresh = false;
    if (rpc !== undefined && this.isUp()) {
      let wake: () => void = () => undefined;
      const answered = new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        this.statusWaiters.add(wake);
      });
      if (!outboxHas(store, 'cold.status')) rpc.call('cold.status', {}).catch(() => undefined);
      const abort = new AbortController();
      const timedOut = clock.sleep(waitMs, abort.signal).then(
        () => false,
        () => false,
      );
      fresh = await Promise.race([answered, timedOut]);
      abort.abort();
      this.statusWaiters.delete(wake);
    }
    return this.statusData(fresh);
  }

  private statusData(fresh: boolean): JsonData {
    const { store } = this.options;
    const cached = store.get(coldStatusCollection, LATEST);
    const event = store.get(coldEventCollection, LATEST);
    return {
      link: this.isUp() ? 'up' : 'down',
      source: cached === undefined ? 'none' : fresh ? 'cold' : 'cache',
      as_of: cached === undefined ? null : apiTime(cached.at),
      channel: cached?.status.channel ?? null,
      pending_channel: cached?.status.pendingChannel ?? null,
      modems: cached?.status.modems ?? [],
      time_trusted: cached?.status.timeTrusted ?? null,
      refused_channel_requests: cached?.status.refusedChannelRequests ?? null,
      last_event: event === undefined ? null : { kind: event.kind, at: apiTime(event.at), details: event.details },
    };
  }
}
