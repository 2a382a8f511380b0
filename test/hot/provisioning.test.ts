import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { accountSpec, exportAccountXpub, mnemonicToSeed, validateMnemonic } from '../../shared/crypto/hd.ts';
import { createPairingFile, runPairingExchange, type PairingOutcome } from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { identitySigner } from '../../shared/store/identity.ts';
import { STORE_FILE } from '../../shared/store/store.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { apiKeysCollection } from '../../hsm-hot/api-keys.ts';
import { coldAccountsCollection, hotAccountsCollection } from '../../hsm-hot/accounts.ts';
import { HsmHot } from '../../hsm-hot/main.ts';
import type { ProvisioningInput } from '../../hsm-hot/provisioning.ts';
import { tempDir } from '../helpers/temp.ts';
import { until } from '../link/harness.ts';
import { ColdStandIn } from './cold-standin.ts';
import { HOT_MNEMONIC, NETWORK, PIN, PLATFORM, READER, TEST_CONFIG, TEST_KDF, testKey } from './wallet-fixture.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

interface Bench {
  clock: SimulatedClock;
  wire: VirtualSerialPair;
  dir: string;
  random: SeededRandom;
  cold: ColdStandIn;
  coldIdentity: string;
  start(): Promise<HsmHot>;
}

function bench(seed = 'provisioning'): Bench {
  const clock = new SimulatedClock();
  const random = new SeededRandom(seed);
  const wire = new VirtualSerialPair({ clock, random: random.fork('wire') });
  const dir = tempDir('hsm-hot-');
  const cold = new ColdStandIn({ dir: tempDir('hsm-cold-'), clock, random: random.fork('cold'), openPort: () => wire.open('b') });
  const coldIdentity = cold.provision();
  stops.push(async () => {
    if (cold.endpoint !== undefined) await cold.shutdown();
    else await cold.store.close();
  });
  return {
    clock,
    wire,
    dir,
    random,
    cold,
    coldIdentity,
    async start() {
      const hot = await HsmHot.start({ stateDir: dir, clock, random: random.fork(`hot-${clock.monotonic()}`), openLinkPort: () => wire.open('a'), config: TEST_CONFIG, kdf: TEST_KDF });
      stops.push(() => hot.stop());
      return hot;
    },
  };
}

function input(b: Bench, over: Partial<ProvisioningInput> = {}): ProvisioningInput {
  return {
    pin: PIN,
    mnemonic: { restore: HOT_MNEMONIC },
    platformKeys: [{ key: PLATFORM.publicKey, scopes: ['tx:create', 'tx:read'] }],
    pairing: {
      method: 'file',
      file: (hotIdentity) => {
        const file = createPairingFile(hotIdentity, b.coldIdentity, b.random.fork('pairing'));
        b.cold.importPairing(file);
        return file;
      },
    },
    ...over,
  };
}

async function rejection(promise: Promise<unknown>): Promise<HsmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HsmError);
    return error as HsmError;
  }
  throw new Error('expected a rejection');
}

describe('provisioning HSM-Hot', () => {
  it('generates a mnemonic, shows it once, and keeps only its sealed seed and the public xpubs', async () => {
    const b = bench();
    const hot = await b.start();
    expect(hot.state).toBe('uninitialised');
    const keys = await hot.provision(input(b, { mnemonic: { generate: 24 } }));
    expect(hot.state).toBe('running');
    const mnemonic = keys.generatedMnemonic as string;
    expect(validateMnemonic(mnemonic).split(' ')).toHaveLength(24);
    expect(keys.identity).toBe(hot.identity);
    const seed = mnemonicToSeed(mnemonic);
    const xpubs = [...hot.store.range(hotAccountsCollection)].map((e) => e.value.xpub);
    expect(xpubs).toEqual([exportAccountXpub(seed, accountSpec(NETWORK, 'p2pkh')), exportAccountXpub(seed, accountSpec(NETWORK, 'p2wpkh'))]);
    await hot.stop();
    const raw = readFileSync(join(b.dir, STORE_FILE));
    expect(raw.includes(Buffer.from(mnemonic))).toBe(false);
    expect(raw.includes(Buffer.from(seed))).toBe(false);
    expect(raw.includes(Buffer.from(seed).toString('hex'))).toBe(false);
  });

  it('restores from a mnemonic, registers the platform keys, and locks behind the PIN on the next boot', async () => {
    const b = bench();
    let hot = await b.start();
    const keys = await hot.provision(input(b, { platformKeys: [{ key: PLATFORM.publicKey, scopes: ['tx:create', 'tx:read'] }, { key: READER.publicKey, scopes: ['address:read'], label: 'watch' }] }));
    expect(keys.generatedMnemonic).toBeUndefined();
    expect(hot.store.get(apiKeysCollection, READER.publicKey)).toMatchObject({ scopes: ['address:read'], label: 'watch' });
    await hot.stop();

    hot = await b.start();
    expect(hot.state).toBe('locked');
    const wrong = await rejection(hot.unlock('000000'));
    expect(wrong.code).toBe('PIN_WRONG');
    expect(hot.state).toBe('locked');
    await hot.unlock(PIN);
    expect(hot.state).toBe('running');
    expect(hot.hostUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    await hot.lock();
    expect(hot.state).toBe('locked');
    expect(hot.hostUrl).toBeUndefined();
  });

  it('bad input is refused before anything is written', async () => {
    const b = bench();
    const hot = await b.start();
    const cases: Array<[Partial<ProvisioningInput>, string]> = [
      [{ pin: '12' }, 'PIN_FORMAT'],
      [{ mnemonic: { restore: HOT_MNEMONIC.replace('legal', 'legally') } }, 'MNEMONIC_UNKNOWN_WORD'],
      [{ mnemonic: { restore: HOT_MNEMONIC.replace('yellow', 'wave') } }, 'MNEMONIC_CHECKSUM'],
      [{ platformKeys: [] }, 'PLATFORM_KEY_INVALID'],
      [{ platformKeys: [{ key: `02${'00'.repeat(32)}`, scopes: ['tx:read'] }] }, 'KEY_FORMAT'],
      [{ platformKeys: [{ key: PLATFORM.publicKey, scopes: ['root' as never] }] }, 'PLATFORM_KEY_INVALID'],
    ];
    for (const [over, code] of cases) {
      const error = await rejection(hot.provision(input(b, over)));
      expect(error.code).toBe(code);
      expect(hot.state).toBe('uninitialised');
      expect(hot.store.count(hotAccountsCollection)).toBe(0);
      expect(hot.store.count(apiKeysCollection)).toBe(0);
      expect(hot.identity).toBeUndefined();
    }
    await hot.provision(input(b));
    expect(hot.state).toBe('running');
  });

  it('a pairing file for another device leaves it provisioned (mnemonic shown) and unpaired; pairing can be done again', async () => {
    const b = bench();
    const hot = await b.start();
    const other = testKey('another hot device').publicKey;
    const result = await hot.provision(input(b, { mnemonic: { generate: 12 }, pairing: { method: 'file', file: createPairingFile(other, b.coldIdentity, b.random) } }));
    expect(result.paired).toBe(false);
    expect(result.pairingError?.code).toBe('PAIRING_FILE');
    expect(validateMnemonic(result.generatedMnemonic as string).split(' ')).toHaveLength(12);
    expect(hot.state).toBe('unpaired');
    await hot.pair(input(b).pairing);
    expect(hot.state).toBe('running');
  });

  it('pairs interactively over the serial line; both sides show the same code; the xpubs follow over the link', async () => {
    const b = bench();
    const hot = await b.start();
    let hotCode: string | undefined;
    let coldOutcome: PairingOutcome | undefined;
    const coldPort = b.wire.open('b');
    const coldSigner = identitySigner(b.cold.store, b.cold.vault);
    const coldSide = runPairingExchange({
      port: coldPort,
      clock: b.clock,
      random: b.random.fork('cold-pairing'),
      role: 'cold',
      store: b.cold.store,
      vault: b.cold.vault,
      signDigest: (digest) => coldSigner.signDigest(digest),
    }).then((outcome) => (coldOutcome = outcome));
    let provisioned = false;
    const hotSide = hot
      .provision(
        input(b, {
          pairing: {
            method: 'code',
            confirm: (code, peer) => {
              hotCode = code;
              return peer === b.coldIdentity;
            },
          },
        }),
      )
      .then(() => (provisioned = true));
    await until(b.clock, () => coldOutcome !== undefined && provisioned, 120_000, 20);
    await Promise.all([coldSide, hotSide]);
    expect(hotCode).toMatch(/^\d{6}$/);
    expect(coldOutcome?.code).toBe(hotCode);
    expect(coldOutcome?.peerIdentity).toBe(hot.identity);
    coldOutcome?.confirm();
    await coldPort.close();

    b.cold.boot();
    await until(b.clock, () => hot.linkUp, 60_000);
    await until(b.clock, () => hot.store.count(coldAccountsCollection) === 2, 60_000);
    expect([...hot.store.range(coldAccountsCollection)].map((e) => e.value.xpub)).toEqual(b.cold.accounts.map((a) => a.xpub));
  });

  it('ten wrong PINs erase the secrets; the device then stays erased', async () => {
    const b = bench();
    let hot = await b.start();
    await hot.provision(input(b));
    await hot.stop();
    hot = await b.start();
    for (let attempt = 1; attempt < 10; attempt++) expect((await rejection(hot.unlock(`99999${attempt}`))).code).toBe('PIN_WRONG');
    expect((await rejection(hot.unlock('999990'))).code).toBe('VAULT_ERASED');
    expect(hot.state).toBe('erased');
    expect((await rejection(hot.unlock(PIN))).code).toBe('DEVICE_STATE');
  });
});
