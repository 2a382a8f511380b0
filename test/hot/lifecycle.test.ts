/**
 * HSM-Hot's restart and zeroize, on the device itself: a restart comes back locked and, once
 * unlocked, runs as before on the same host API URL; zeroize leaves no secret and no
 * provisioning behind, fails what still waited for HSM-Cold, and the device can be provisioned
 * again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { coldAccountsCollection, hotAccountsCollection } from '../../hsm-hot/accounts.ts';
import { apiKeysCollection, nonceCollection } from '../../hsm-hot/api-keys.ts';
import { pendingRequestsCollection, requestsCollection, unsignedTxCollection } from '../../hsm-hot/requests.ts';
import { createPairingFile, pairingRecord } from '../../shared/link/pairing.ts';
import { RPC_COLLECTIONS } from '../../shared/link/rpc.ts';
import type { HsmError } from '../../shared/errors.ts';
import { auditTail } from '../../shared/store/audit.ts';
import { identityPublicKey } from '../../shared/store/identity.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { HotRig } from './rig.ts';
import { CHANNEL_ID, HOT_MNEMONIC, PIN, PLATFORM, STRANGER, vcCode } from './wallet-fixture.ts';

let rig: HotRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('HsmHot.restart', () => {
  it('comes back locked; unlocked, it runs with the same identity on the same host API URL', async () => {
    const r = (rig = await HotRig.create());
    await r.until(() => r.hot.linkUp);
    const url = r.url;
    const identity = r.hot.identity;
    await r.hot.restart();
    expect(r.hot.state).toBe('locked');
    expect(r.hot.vaultState?.state).toBe('locked');
    expect(r.hot.hostUrl).toBeUndefined();
    expect(r.hot.link).toBeUndefined();

    await r.hot.unlock(PIN);
    expect(r.hot.state).toBe('running');
    expect(r.hot.identity).toBe(identity);
    expect(r.url).toBe(url);
    await r.until(() => r.hot.linkUp);
    const client = await r.client();
    expect((await client.op('device_status', {})).msg).toBe('ack');
  });
});

describe('HsmHot.zeroize', () => {
  it('erases the vault and the provisioning, fails pending requests, and boots uninitialised', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const client = await r.client();
    const code = vcCode({ coinCode: 'BTC', userTxNo: 'z-1', outs: 'PING', isDynamicFee: 1 });
    await client.op('tx_request', { coin_code: 'BTC', user_tx_no: 'z-1', outs: 'PING', vc_code: code, is_dynamic_fee: 1, c_id: CHANNEL_ID });
    expect(r.hot.store.count(pendingRequestsCollection)).toBe(1);
    expect(r.hot.store.count(nonceCollection)).toBeGreaterThan(0);
    const oldIdentity = r.hot.identity;

    await r.hot.zeroize('test: decommissioned');
    const store = r.hot.store;
    expect(r.hot.state).toBe('uninitialised');
    expect(r.hot.vaultState?.state).toBe('erased');
    expect(r.hot.identity).toBeUndefined();
    expect(r.hot.hostUrl).toBeUndefined();
    expect(store.count(SYSTEM_COLLECTIONS.secrets)).toBe(0);
    expect(identityPublicKey(store)).toBeUndefined();
    expect(pairingRecord(store)).toBeUndefined();
    for (const c of [hotAccountsCollection, coldAccountsCollection, apiKeysCollection, nonceCollection, pendingRequestsCollection, unsignedTxCollection, RPC_COLLECTIONS.outbox]) {
      expect(store.count(c), c.name).toBe(0);
    }
    expect(store.get(requestsCollection, 'z-1')).toMatchObject({ status: 9, failure: { code: 'DEVICE_ZEROIZED' } });
    const audit = auditTail(store, 20);
    expect(audit.find((e) => e.kind === 'hot.zeroized')?.details).toEqual({ reason: 'test: decommissioned', failedRequests: 1 });
    expect(audit.some((e) => e.kind === 'vault.erased')).toBe(true);

    // A restart keeps it waiting for provisioning; nothing else is possible meanwhile.
    await r.hot.restart();
    expect(r.hot.state).toBe('uninitialised');
    await expect(r.hot.unlock(PIN)).rejects.toThrow(/cannot unlock while the device is uninitialised/);

    // Provisioned again (the same mnemonic, a new identity, another platform key), paired by file.
    const coldIdentity = identityPublicKey(r.cold.store)!;
    const result = await r.hot.provision({
      pin: '135790',
      mnemonic: { restore: HOT_MNEMONIC },
      platformKeys: [{ key: STRANGER.publicKey, scopes: ['tx:read'] }],
      pairing: { method: 'file', file: (hot) => createPairingFile(hot, coldIdentity, r.random.fork('pairing again')) },
    });
    expect(result.paired).toBe(true);
    expect(result.identity).not.toBe(oldIdentity);
    expect(r.hot.state).toBe('running');
    expect(r.hot.identity).toBe(result.identity);
    expect(store.count(hotAccountsCollection)).toBeGreaterThan(0);
    expect(store.get(apiKeysCollection, PLATFORM.publicKey)).toBeUndefined();
    expect(store.get(apiKeysCollection, STRANGER.publicKey)).toMatchObject({ scopes: ['tx:read'] });
    await r.hot.restart();
    await expect(r.hot.unlock(PIN)).rejects.toThrow(/wrong PIN/);
    await r.hot.unlock('135790');
    expect(r.hot.state).toBe('running');
  });

  it('a device whose vault erased itself after wrong PINs stays erased until zeroized', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    await r.hot.lock();
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) await r.hot.unlock('000000').then(() => codes.push('unlocked'), (error: HsmError) => codes.push(error.code));
    expect(codes).toEqual([...Array<string>(9).fill('PIN_WRONG'), 'VAULT_ERASED']);
    expect(r.hot.state).toBe('erased');
    await r.hot.zeroize('test: after wrong PINs');
    expect(r.hot.state).toBe('uninitialised');
    expect(r.hot.store.count(SYSTEM_COLLECTIONS.secrets)).toBe(0);
  });
});
