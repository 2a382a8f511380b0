/**
 * What HSM-Cold's domain modules (channel, batches, approvals, alerts) need from the device,
 * passed in explicitly so each module can be tested with emulated parts: the store and vault,
 * the clock and randomness, the configuration, an SMS outbox (the modem pool), and the event
 * outlet to HSM-Hot (the link). Outlets called inside a transaction join it, so an effect and
 * its record commit together.
 * @module
 */
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { COLD_EVENT_KINDS } from '../shared/link/messages.ts';
import type { RandomSource } from '../shared/random.ts';
import type { DeviceStore } from '../shared/store/store.ts';
import type { Vault } from '../shared/store/vault.ts';
import type { ColdConfig } from './config.ts';

export type ColdEventKind = (typeof COLD_EVENT_KINDS)[number];
export type EventDetails = Record<string, string | number | boolean | null>;

export interface SmsOutlet {
  /** Stores an SMS for sending (durable before it returns); joins the caller's transaction. */
  enqueue(to: string, text: string): number;
}

export interface EventOutlet {
  /** Queues an event for HSM-Hot (durable, exactly once); joins the caller's transaction. */
  emit(kind: ColdEventKind, details: EventDetails): void;
}

export interface ColdServices {
  store: DeviceStore;
  vault: Vault;
  clock: Clock;
  random: RandomSource;
  config: ColdConfig;
  sms: SmsOutlet;
  events: EventOutlet;
  log: Logger;
  /** Progress of long jobs (address batches), for the console and the event stream. */
  progress?: (job: string, done: number, total: number) => void;
}
