/**
 * At pairing, HSM-Hot sends its account xpubs (`cold.pin-xpubs`) and HSM-Cold pins them: hot
 * address batches are derived from these and nothing else. The same set again is answered
 * again; a different set is refused (and alerts the administrators) until the device is
 * re-provisioned. The reply carries HSM-Cold's own account xpubs.
 * @module
 */
import { accountSpec, importAccountXpub } from '../shared/crypto/hd.ts';
import { getNetwork } from '../shared/crypto/networks.ts';
import { HsmError } from '../shared/errors.ts';
import type { AccountXpub } from '../shared/link/messages.ts';
import { refuse, type Refusal } from '../shared/link/rpc.ts';
import type { WriteTx } from '../shared/store/store.ts';
import { alertAdmins } from './alerts.ts';
import { COLD_RECORDS, SINGLETON } from './records.ts';
import type { ColdServices } from './services.ts';

function canonical(accounts: readonly AccountXpub[]): string {
  return JSON.stringify([...accounts].map((a) => [a.coin, a.network, a.type, a.account, a.xpub]).sort());
}

export function pinHotXpubs(svc: ColdServices, tx: WriteTx, body: { accounts: AccountXpub[] }): { accounts: AccountXpub[] } | Refusal {
  for (const [i, a] of body.accounts.entries()) {
    try {
      const network = getNetwork(a.network);
      if (network.coin !== a.coin) throw new HsmError('XPUB_WRONG_NETWORK', `${a.network} is not a ${a.coin} network`);
      importAccountXpub(a.xpub, accountSpec(network, a.type, a.account), `accounts[${i}].xpub`);
    } catch (error) {
      const e = error as HsmError;
      return refuse(e.code, e.message, e.field ?? `accounts[${i}]`);
    }
  }
  const device = tx.get(COLD_RECORDS.device, SINGLETON);
  if (device === undefined) return refuse('NOT_PROVISIONED', 'HSM-Cold is not provisioned');
  if (device.hotAccounts === undefined) {
    tx.put(COLD_RECORDS.device, SINGLETON, { ...device, hotAccounts: body.accounts });
    tx.audit('pairing.hot-xpubs-pinned', { accounts: body.accounts.length, coins: body.accounts.map((a) => a.coin).join(',') });
  } else if (canonical(device.hotAccounts) !== canonical(body.accounts)) {
    alertAdmins(svc, tx, 'XPUB_CONFLICT', 'HSM-Hot sent account xpubs that differ from the pinned ones; refused');
    return refuse('XPUB_CONFLICT', 'different hot account xpubs are already pinned; re-provision HSM-Cold to change them');
  }
  return { accounts: device.coldAccounts };
}
