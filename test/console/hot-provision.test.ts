/**
 * HSM-Hot's guided provisioning from its console: a new mnemonic (shown once, after the keys
 * are made), the PIN twice without echo, the platform key, and pairing by code with HSM-Cold
 * (its side of the exchange runs on the other end of the wire, as its console would).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hotAccountsCollection } from '../../hsm-hot/accounts.ts';
import { apiKeysCollection } from '../../hsm-hot/api-keys.ts';
import { hotConsole } from '../../hsm-hot/console-commands.ts';
import { HsmHot } from '../../hsm-hot/main.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import { serveConsole } from '../../shared/console/serve.ts';
import { accountSpec, exportAccountXpub, mnemonicToSeed } from '../../shared/crypto/hd.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { pairingRecord, runPairingExchange, type PairingOutcome } from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { identitySigner } from '../../shared/store/identity.ts';
import { ColdStandIn } from '../hot/cold-standin.ts';
import { PLATFORM, TEST_CONFIG, TEST_KDF } from '../hot/wallet-fixture.ts';
import { tempDir } from '../helpers/temp.ts';
import { enrolOperator, totpCode } from './operator-driver.ts';
import { FAST_CONSOLE_KDF, MemoryPort, PASSWORD } from './harness.ts';

const NEW_PIN = '731904';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('HSM-Hot console: provision', () => {
  it('provisions a new device: mnemonic shown once, PIN never echoed, platform key registered, paired by code', async () => {
    const clock = new SimulatedClock({ start: Date.UTC(2026, 2, 10, 8, 0) });
    const random = new SeededRandom('hot-console-provision');
    const wire = new VirtualSerialPair({ clock, baudRate: 115_200, random: random.fork('wire') });
    const cold = new ColdStandIn({ dir: tempDir('hsm-cold-'), clock, random: random.fork('cold'), openPort: () => wire.open('b') });
    const coldIdentity = cold.provision();
    cleanups.push(() => cold.shutdown());
    const hot = await HsmHot.start({ stateDir: tempDir('hsm-hot-'), clock, random: random.fork('hot'), openLinkPort: () => wire.open('a'), config: TEST_CONFIG, kdf: TEST_KDF });
    cleanups.push(() => hot.stop());
    expect(hot.state).toBe('uninitialised');

    const port = new MemoryPort();
    const consoleRandom = random.fork('console');
    const { host, commands } = hotConsole(hot, { random: consoleRandom });
    const server = serveConsole({ port, clock, random: consoleRandom, store: hot.store, host, commands, kdf: FAST_CONSOLE_KDF });
    cleanups.push(() => server.close());
    const secret = await enrolOperator(server.credentials, clock, consoleRandom);
    let mark = 0;
    const fresh = (): string => {
      const all = port.output();
      const text = all.subarray(mark).toString('utf8').replace(/\r\n/g, '\n');
      mark = all.length;
      return text;
    };
    const enter = async (line: string): Promise<string> => {
      port.type(`${line}\r`);
      const deadline = Date.now() + 20_000;
      await new Promise((r) => setImmediate(r));
      while (server.session.busy && server.session.asking === undefined) {
        if (Date.now() > deadline) throw new Error(`no answer to "${line}": ${fresh()}`);
        await new Promise((r) => setTimeout(r, 0));
        await clock.advance(20);
      }
      return fresh();
    };

    await enter('login');
    expect(await enter(PASSWORD)).toContain('logged in');
    expect(await enter('status')).toMatch(/state +uninitialised\n[\s\S]*link +not paired/);
    await clock.advance(30_000 - (clock.now() % 30_000));
    expect(await enter('provision')).toMatch(/2FA code: $/);
    expect(await enter(totpCode(secret, clock.now()))).toMatch(/new mnemonic or restore one\? \(new, restore\) \[new\]: $/);
    expect(await enter('')).toMatch(/words \(12, 15, 18, 21, 24\) \[24\]: $/);
    expect(await enter('12')).toMatch(/device PIN \(4-64 characters, not echoed\): $/);
    expect(await enter(NEW_PIN)).toMatch(/device PIN again: $/);
    expect(await enter(NEW_PIN)).toMatch(/platform public key \(66 hex characters\): $/);
    expect(await enter(PLATFORM.publicKey)).toMatch(/its scopes \[address:read,tx:create,tx:read,events:read\]: $/);
    expect(await enter('tx:create,tx:read')).toMatch(/its label \[platform\]: $/);
    const summary = await enter('');
    expect(summary).toMatch(/mnemonic +new, 12 words\nplatform key +[0-9a-f]{10}… \(tx:create, tx:read\)\npairing +by code, next\nprovision HSM-Hot now\? \(yes\/no\) $/);

    // HSM-Cold's side of the exchange, on the other end of the wire.
    let coldSide: PairingOutcome | undefined;
    void runPairingExchange({ port: wire.open('b'), clock, random: random.fork('cold-pair'), role: 'cold', store: cold.store, vault: cold.vault, signDigest: identitySigner(cold.store, cold.vault).signDigest }).then((o) => (coldSide = o));
    const asked = await enter('yes');
    expect(asked).toMatch(/does HSM-Cold's console show the same code\? \(yes\/no\) $/);
    expect(asked).toContain(`HSM-Cold identity  ${coldIdentity}`);
    const code = /pairing code +(\d{3} \d{3})/.exec(asked)?.[1];
    expect(coldSide).toBeDefined();
    expect(code).toBe(`${coldSide!.code.slice(0, 3)} ${coldSide!.code.slice(3)}`);
    coldSide!.confirm();

    const shown = await enter('yes');
    expect(shown).toContain('write these words down now, in order: they are shown this once and never stored');
    const block = shown.slice(shown.indexOf('never stored'), shown.indexOf('press Enter'));
    const words = [...block.matchAll(/(?:^|\s)\d{1,2} ([a-z]+)/g)].map((m) => m[1]).filter((w): w is string => w !== undefined);
    expect(words).toHaveLength(12);
    const mnemonic = words.join(' ');
    const done = await enter('');
    expect(done).toMatch(new RegExp(`identity +${hot.identity}\\n`));
    expect(done).toContain('provisioned and paired; HSM-Hot is running');
    expect(hot.state).toBe('running');

    // The words shown are the device's seed: they give the xpub HSM-Hot stored.
    const stored = [...hot.store.range(hotAccountsCollection)].map((e) => e.value).find((a) => a.type === 'p2pkh');
    expect(stored?.xpub).toBe(exportAccountXpub(mnemonicToSeed(mnemonic), accountSpec(NETWORKS['btc-test'], 'p2pkh', 0)));
    expect(hot.store.get(apiKeysCollection, PLATFORM.publicKey)).toMatchObject({ scopes: ['tx:create', 'tx:read'], label: 'platform' });
    expect(pairingRecord(hot.store)).toMatchObject({ peerIdentity: coldIdentity, method: 'code' });

    // Shown once, and never again: no later command prints a word sequence of it.
    for (const line of ['status', 'api-keys', 'audit tail 50', 'pair']) await enter(line);
    const screen = port.output().toString('utf8').replace(/\r\n/g, '\n');
    expect(screen.split('write these words down').length).toBe(2);
    expect(screen).not.toContain(NEW_PIN);
    expect(screen).not.toContain(`${words[0]} ${words[1]}`);
  });
});
