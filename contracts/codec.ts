import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ErrorCode } from './errors.ts';

/** A message schema per schemaVersion: every version a reader accepts. */
export type Versions<T extends TSchema> = Readonly<Record<number, T>>;

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

export interface Codec<T extends TSchema> {
  readonly name: string;
  readonly currentVersion: number;
  /** Checks an already-parsed value, naming the first field at fault. */
  check(value: unknown): Decoded<Static<T>>;
  /** Parses raw bytes: size, UTF-8, then JSON; the schema is not checked yet. */
  parse(bytes: Uint8Array, maxBytes: number): Decoded<unknown>;
  /** parse, then check. */
  decode(bytes: Uint8Array, maxBytes: number): Decoded<Static<T>>;
  encode(value: Static<T>): Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

function fail(code: ErrorCode, reason: string): Decoded<never> {
  return { ok: false, code, reason };
}

export function createCodec<T extends TSchema>(name: string, versions: Versions<T>): Codec<T> {
  const schemas = new Map(
    Object.entries(versions).map(([version, schema]) => [Number(version), schema]),
  );
  const currentVersion = Math.max(...schemas.keys());
  // Each version's checker is compiled when a message of that version first comes: a process
  // compiles only what it reads.
  const checkers = new Map<number, TypeCheck<T>>();
  const checkerOf = (version: number): TypeCheck<T> | undefined => {
    const schema = schemas.get(version);
    if (schema === undefined) return undefined;
    let checker = checkers.get(version);
    if (checker === undefined) {
      checker = TypeCompiler.Compile(schema);
      checkers.set(version, checker);
    }
    return checker;
  };

  function check(value: unknown): Decoded<Static<T>> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail('BERTH_ERR_NOT_OBJECT', `${name}: expected a JSON object`);
    }
    const version = (value as { schemaVersion?: unknown }).schemaVersion;
    if (version === undefined) {
      return fail('BERTH_ERR_NO_SCHEMA_VERSION', `${name}: field /schemaVersion is missing`);
    }
    const checker = typeof version === 'number' ? checkerOf(version) : undefined;
    if (checker === undefined) {
      return fail(
        'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
        `${name}: schemaVersion ${JSON.stringify(version)} is not known (known: ${[...schemas.keys()].join(', ')})`,
      );
    }
    if (checker.Check(value)) return { ok: true, value };
    const first = checker.Errors(value).First();
    const field = first?.path === undefined || first.path === '' ? '/' : first.path;
    return fail(
      'BERTH_ERR_SCHEMA',
      `${name}: field ${field} ${first?.message.toLowerCase() ?? 'is invalid'}`,
    );
  }

  function parse(bytes: Uint8Array, maxBytes: number): Decoded<unknown> {
    if (bytes.length === 0) return fail('BERTH_ERR_EMPTY', `${name}: the payload is empty`);
    if (bytes.length > maxBytes) {
      return fail(
        'BERTH_ERR_TOO_LARGE',
        `${name}: ${bytes.length} bytes is over the limit of ${maxBytes} bytes`,
      );
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return fail('BERTH_ERR_NOT_UTF8', `${name}: the payload is not valid UTF-8`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return fail(
        'BERTH_ERR_NOT_JSON',
        `${name}: the payload is not JSON (${error instanceof Error ? error.message : 'parse error'})`,
      );
    }
    return { ok: true, value: parsed };
  }

  function decode(bytes: Uint8Array, maxBytes: number): Decoded<Static<T>> {
    const parsed = parse(bytes, maxBytes);
    return parsed.ok ? check(parsed.value) : parsed;
  }

  return {
    name,
    currentVersion,
    check,
    parse,
    decode,
    encode: (value) => encoder.encode(JSON.stringify(value)),
  };
}
