/**
 * Console command lines: printable ASCII words separated by spaces, checked against each
 * command's argument specs. Every error names the argument at fault and what was expected,
 * and is raised before anything runs.
 * @module
 */
import { HsmError } from '../errors.ts';

export const MAX_WORDS = 24;
export const MAX_WORD_LENGTH = 128;

export type ArgSpec =
  | { name: string; kind: 'int'; min: number; max: number; optional?: boolean }
  | { name: string; kind: 'enum'; values: readonly string[]; optional?: boolean }
  /** A free word; `pattern` (anchored) and `expected` describe what it must look like. */
  | { name: string; kind: 'word'; pattern?: RegExp; expected?: string; optional?: boolean };

export type ArgValue = string | number;

/** Parsed arguments of one command line. */
export class Args {
  constructor(private readonly values: ReadonlyMap<string, ArgValue>) {}

  int(name: string): number {
    const value = this.values.get(name);
    if (typeof value !== 'number') throw new Error(`invariant failed: argument ${name} is not a parsed integer`);
    return value;
  }

  str(name: string): string {
    const value = this.values.get(name);
    if (typeof value !== 'string') throw new Error(`invariant failed: argument ${name} is not a parsed word`);
    return value;
  }

  optionalInt(name: string): number | undefined {
    const value = this.values.get(name);
    return typeof value === 'number' ? value : undefined;
  }

  optionalStr(name: string): string | undefined {
    const value = this.values.get(name);
    return typeof value === 'string' ? value : undefined;
  }

  /** `name=value` pairs in spec order, for audit entries and confirmation binding. */
  canonical(): string {
    return [...this.values].map(([name, value]) => `${name}=${value}`).join(' ');
  }
}

/** Splits a line into words; refuses characters outside printable ASCII. */
export function splitWords(line: string): string[] {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      throw new HsmError('CONSOLE_BAD_CHARACTER', `the line holds a character outside printable ASCII at position ${i + 1}`, { field: 'line' });
    }
  }
  const words = line.split(' ').filter((w) => w.length > 0);
  if (words.length > MAX_WORDS) throw new HsmError('CONSOLE_TOO_MANY_WORDS', `the line has ${words.length} words, at most ${MAX_WORDS} allowed`, { field: 'line' });
  const long = words.findIndex((w) => w.length > MAX_WORD_LENGTH);
  if (long >= 0) {
    throw new HsmError('CONSOLE_WORD_TOO_LONG', `word ${long + 1} is ${words[long]?.length} characters, at most ${MAX_WORD_LENGTH} allowed`, { field: 'line' });
  }
  return words;
}

export function usageOf(path: string, specs: readonly ArgSpec[]): string {
  const parts = specs.map((s) => {
    const label = s.kind === 'enum' && s.values.join('|').length <= 16 ? s.values.join('|') : s.name;
    return s.optional ? `[${label}]` : `<${label}>`;
  });
  return [path, ...parts].join(' ');
}

function clip(word: string): string {
  return word.length > 24 ? `${word.slice(0, 24)}…` : word;
}

function parseOne(spec: ArgSpec, word: string, usage: string): ArgValue {
  const bad = (expected: string): HsmError =>
    new HsmError('CONSOLE_BAD_ARGUMENT', `${spec.name} must be ${expected}, got "${clip(word)}" (usage: ${usage})`, { field: spec.name });
  switch (spec.kind) {
    case 'int': {
      if (!/^-?[0-9]{1,15}$/.test(word)) throw bad(`an integer in ${spec.min}..${spec.max}`);
      const value = Number(word);
      if (value < spec.min || value > spec.max) throw bad(`an integer in ${spec.min}..${spec.max}`);
      return value;
    }
    case 'enum': {
      const value = spec.values.find((v) => v === word.toLowerCase());
      if (value === undefined) throw bad(`one of ${spec.values.join(', ')}`);
      return value;
    }
    case 'word':
      if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern.source})$`, spec.pattern.flags).test(word)) {
        throw bad(spec.expected ?? `a word matching ${spec.pattern.source}`);
      }
      return word;
  }
}

/** Parses `words` (the command's own words removed) against `specs`. */
export function parseArgs(path: string, specs: readonly ArgSpec[], words: readonly string[]): Args {
  const usage = usageOf(path, specs);
  const values = new Map<string, ArgValue>();
  specs.forEach((spec, i) => {
    const word = words[i];
    if (word === undefined) {
      if (!spec.optional) throw new HsmError('CONSOLE_MISSING_ARGUMENT', `missing ${spec.name} (usage: ${usage})`, { field: spec.name });
      return;
    }
    values.set(spec.name, parseOne(spec, word, usage));
  });
  const extra = words[specs.length];
  if (extra !== undefined) {
    throw new HsmError('CONSOLE_EXTRA_ARGUMENT', `unexpected argument "${clip(extra)}" (usage: ${usage})`, { field: 'line' });
  }
  return new Args(values);
}
