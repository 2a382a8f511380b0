/**
 * HSM-Hot's privileged console commands (each asks a TOTP code first; zeroize is two-step):
 * the guided provisioning (a new mnemonic is shown once, here and nowhere else), unlock with the
 * PIN, lock, reboot, interactive pairing with HSM-Cold (both consoles show the same 6-digit
 * code), registering another platform key, and zeroize. Only what HsmHot itself does: it has no
 * key removal of its own, so neither has its console.
 * @module
 */
import { fields, formatTime } from '../shared/console/format.ts';
import type { CommandContext, CommandSpec } from '../shared/console/registry.ts';
import { cancelled } from '../shared/console/session.ts';
import { HsmError } from '../shared/errors.ts';
import { pairingRecord } from '../shared/link/pairing.ts';
import { MNEMONIC_WORD_COUNTS, validateMnemonic, type MnemonicWordCount } from '../shared/crypto/hd.ts';
import { checkPinFormat } from '../shared/store/vault.ts';
import { apiKeysCollection, checkKeyFormat, registerKeys } from './api-keys.ts';
import type { PairingInput } from './provisioning.ts';
import { SCOPES, type Scope } from './api-wire.ts';
import type { HsmHot, HsmHotState } from './main.ts';

function requireState(hot: HsmHot, state: HsmHotState, action: string): void {
  if (hot.state !== state) throw new HsmError('CONSOLE_WRONG_STATE', `${action} needs HSM-Hot to be ${state}; it is ${hot.state}`);
}

/** Waits for `work`; ^C or the idle timeout stop the waiting, not the work. */
function untilDoneOrCancelled<T>(ctx: CommandContext, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelled('stopped waiting (the action goes on)'));
    if (ctx.signal.aborted) {
      onAbort();
      return;
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        ctx.signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function lifecycleCommands(hot: HsmHot): CommandSpec[] {
  return [
    {
      path: 'unlock',
      summary: 'unlock the vault with the device PIN and start the link and the host API',
      access: 'privileged',
      run: async (ctx) => {
        requireState(hot, 'locked', 'unlock');
        const pin = await ctx.ask('device PIN: ', { secret: true });
        checkPinFormat(pin);
        await untilDoneOrCancelled(ctx, hot.unlock(pin));
        ctx.out.ok(hot.state === 'running' ? 'unlocked; HSM-Hot is running' : `unlocked; HSM-Hot is ${hot.state} (pair with HSM-Cold: pair)`);
      },
    },
    {
      path: 'lock',
      summary: 'stop the link and the host API and forget the vault key until the next unlock',
      access: 'privileged',
      run: async (ctx) => {
        requireState(hot, 'running', 'lock');
        await untilDoneOrCancelled(ctx, hot.lock());
        ctx.out.ok(`locked; HSM-Hot is ${hot.state}`);
      },
    },
    {
      path: 'reboot',
      summary: "restart the device's link and host API from boot (it comes back locked)",
      access: 'privileged',
      run: async (ctx) => {
        ctx.out.line('rebooting...');
        await untilDoneOrCancelled(ctx, hot.restart());
        ctx.out.ok(`rebooted; HSM-Hot is ${hot.state}`);
      },
    },
  ];
}

/** Interactive pairing: the code is shown, and the operator says whether HSM-Cold shows the same. */
function pairingByCode(ctx: CommandContext): PairingInput {
  return {
    method: 'code',
    timeoutMs: 120_000,
    confirm: async (code, peerIdentity) => {
      ctx.out.lines(fields([['pairing code', `${code.slice(0, 3)} ${code.slice(3)}`], ['HSM-Cold identity', peerIdentity]]));
      return ctx.confirm("does HSM-Cold's console show the same code?");
    },
  };
}

async function askWithDefault(ctx: CommandContext, label: string, fallback: string): Promise<string> {
  const answer = (await ctx.ask(`${label} [${fallback}]: `)).trim();
  return answer === '' ? fallback : answer;
}

function provisionCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'provision',
    summary: 'guided provisioning: new or restored mnemonic, PIN, the platform key, then pairing by code',
    access: 'privileged',
    run: async (ctx) => {
      requireState(hot, 'uninitialised', 'provisioning');
      const mode = (await askWithDefault(ctx, 'new mnemonic or restore one? (new, restore)', 'new')).toLowerCase();
      if (mode !== 'new' && mode !== 'restore') throw new HsmError('CONSOLE_BAD_ANSWER', `answer new or restore, not "${mode.slice(0, 16)}"`, { field: 'mode' });
      let mnemonic: { generate: MnemonicWordCount } | { restore: string };
      if (mode === 'restore') {
        const words = await ctx.ask('mnemonic words (not echoed): ', { secret: true });
        try {
          mnemonic = { restore: validateMnemonic(words) };
        } catch (error) {
          // The words are not repeated: an unknown one is likely a typo of a secret one.
          throw new HsmError('MNEMONIC_INVALID', 'the mnemonic is not a valid BIP39 English mnemonic; nothing was provisioned', { field: 'mnemonic', cause: error });
        }
      } else {
        const count = Number(await askWithDefault(ctx, `words (${MNEMONIC_WORD_COUNTS.join(', ')})`, '24'));
        if (!(MNEMONIC_WORD_COUNTS as readonly number[]).includes(count)) throw new HsmError('CONSOLE_BAD_ANSWER', `a mnemonic has ${MNEMONIC_WORD_COUNTS.join(', ')} words`, { field: 'words' });
        mnemonic = { generate: count as MnemonicWordCount };
      }
      const pin = await ctx.ask('device PIN (4-64 characters, not echoed): ', { secret: true });
      checkPinFormat(pin);
      if ((await ctx.ask('device PIN again: ', { secret: true })) !== pin) throw new HsmError('CONSOLE_PIN_MISMATCH', 'the two PINs differ; nothing was provisioned', { field: 'pin' });
      const key = (await ctx.ask('platform public key (66 hex characters): ')).trim();
      checkKeyFormat(key, 'key');
      const scopes = parseScopes(await askWithDefault(ctx, 'its scopes', SCOPES.join(',')));
      const label = await askWithDefault(ctx, 'its label', 'platform');
      ctx.out.lines(fields([['mnemonic', 'generate' in mnemonic ? `new, ${mnemonic.generate} words` : 'restored'], ['platform key', `${key.slice(0, 10)}… (${scopes.join(', ')})`], ['pairing', 'by code, next']]));
      if (!(await ctx.confirm('provision HSM-Hot now?'))) {
        ctx.out.line('not provisioned');
        return;
      }
      ctx.out.line("the keys are made first; then start pair on HSM-Cold's console and compare the codes");
      // Not cancellable once started: a generated mnemonic must reach the operator.
      const result = await hot.provision({ pin, mnemonic, platformKeys: [{ key, scopes, label: label.slice(0, 64) }], pairing: pairingByCode(ctx) });
      if (result.generatedMnemonic !== undefined) {
        const words = result.generatedMnemonic.split(' ');
        ctx.out.warn('write these words down now, in order: they are shown this once and never stored');
        for (let i = 0; i < words.length; i += 4) ctx.out.line(words.slice(i, i + 4).map((w, j) => `${String(i + j + 1).padStart(2)} ${w.padEnd(10)}`).join(' ').trimEnd());
        await ctx.ask('press Enter once the words are written down ').catch(() => undefined);
      }
      ctx.out.lines(fields([['identity', result.identity]]));
      if (result.paired) ctx.out.ok('provisioned and paired; HSM-Hot is running');
      else ctx.out.warn(`provisioned, not paired: ${result.pairingError?.message ?? 'unknown'} [${result.pairingError?.code ?? '-'}]; pair again with: pair`);
    },
  };
}

function pairCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'pair',
    summary: 'pair with HSM-Cold: both consoles show a 6-digit code to compare (or show the pairing)',
    access: 'privileged',
    run: async (ctx) => {
      const existing = hot.state === 'uninitialised' ? undefined : pairingRecord(hot.store);
      if (existing !== undefined) {
        ctx.out.lines(fields([['paired with', existing.peerIdentity], ['since', formatTime(existing.pairedAt)], ['method', existing.method]]));
        return;
      }
      requireState(hot, 'unpaired', 'pairing');
      ctx.out.line("pairing over the link port; start the pairing on HSM-Cold's console too (^C stops)");
      const paired = hot.pair(pairingByCode(ctx));
      try {
        await untilDoneOrCancelled(ctx, paired);
      } catch (error) {
        if (hot.state === 'unpaired') ctx.out.warn('not paired: the codes must match on both consoles');
        throw error;
      }
      ctx.out.ok('paired with HSM-Cold; the link is starting');
    },
  };
}

const KEY_ARG = { name: 'key', kind: 'word', pattern: /0[23][0-9a-f]{64}/, expected: 'a compressed secp256k1 public key in lower-case hex (66 characters)' } as const;

function parseScopes(text: string): Scope[] {
  const scopes = [...new Set(text.split(','))];
  const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown !== undefined) throw new HsmError('CONSOLE_BAD_ARGUMENT', `scopes must be a comma-separated list of ${SCOPES.join(', ')}; "${unknown.slice(0, 16)}" is not one`, { field: 'scopes' });
  return scopes as Scope[];
}

function apiKeyAddCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'api-keys add',
    summary: 'register another platform key with its scopes (comma-separated)',
    access: 'privileged',
    args: [KEY_ARG, { name: 'scopes', kind: 'word', pattern: /[a-z:,]{1,80}/, expected: `scopes such as ${SCOPES.join(',')}` }, { name: 'label', kind: 'word', pattern: /[A-Za-z0-9._-]{1,64}/, expected: 'a label of letters, digits, dot, dash, underscore', optional: true }],
    run: (ctx, args) => {
      if (hot.state === 'uninitialised') throw new HsmError('CONSOLE_WRONG_STATE', 'platform keys are registered at provisioning first');
      const key = args.str('key');
      const scopes = parseScopes(args.str('scopes'));
      const label = args.optionalStr('label');
      hot.store.transact((tx) => {
        if (tx.get(apiKeysCollection, key) !== undefined) throw new HsmError('PLATFORM_KEY_EXISTS', 'this key is already registered', { field: 'key' });
        registerKeys(tx, [{ key, scopes, ...(label === undefined ? {} : { label }) }], ctx.clock.now());
      });
      ctx.out.ok(`registered ${key.slice(0, 10)}… with ${scopes.join(', ')}`);
    },
  };
}

function zeroizeCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'zeroize',
    summary: 'erase every secret (seed, identity and link keys) and the provisioning',
    access: 'destructive',
    preview: (ctx) => {
      ctx.out.warn('zeroize erases the hot seed, the identity key and the link key,');
      ctx.out.warn('forgets the provisioning, the platform keys and the pairing, and fails the requests still pending.');
      ctx.out.warn('Only the mnemonic written down at provisioning can restore the hot keys.');
    },
    run: async (ctx) => {
      await untilDoneOrCancelled(ctx, hot.zeroize('zeroized from the console'));
      ctx.out.ok('zeroized; HSM-Hot waits to be provisioned again');
    },
  };
}

export function hotActionCommands(hot: HsmHot): CommandSpec[] {
  return [provisionCommand(hot), ...lifecycleCommands(hot), pairCommand(hot), apiKeyAddCommand(hot), zeroizeCommand(hot)];
}
