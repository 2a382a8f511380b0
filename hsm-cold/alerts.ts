/**
 * Alerts to the administrators: one SMS per administrator number, queued in the modem pool
 * (which fails over between the two SIMs), an audit entry and an event for HSM-Hot, all in
 * the caller's transaction.
 * @module
 */
import { formatAdminAlert } from '../shared/chaincloud/sms.ts';
import type { WriteTx } from '../shared/store/store.ts';
import type { ColdServices, EventDetails } from './services.ts';

export function alertAdmins(svc: ColdServices, tx: WriteTx, code: string, text: string, details: EventDetails = {}): void {
  const message = formatAdminAlert(text);
  for (const admin of svc.config.adminNumbers) svc.sms.enqueue(admin, message);
  tx.audit('alert.sent', { code, text: message, recipients: svc.config.adminNumbers.length, ...details });
  svc.events.emit('alert', { code, text: message, ...details });
  svc.log.warn({ code, ...details }, 'administrators alerted');
}

/** The last digits of a phone number, for logs and events. */
export function maskNumber(number: string): string {
  return number.length <= 4 ? number : `…${number.slice(-4)}`;
}
