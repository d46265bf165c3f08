import { describe, expect, it } from 'vitest';
import {
  deadLetterCodec,
  heartbeatCodec,
  hostInventoryCodec,
  jobProgressCodec,
  jobRequestCodec,
  resultBatchCodec,
  type DeadLetter,
  type ErrorCode,
  type Heartbeat,
  type HostInventory,
  type JobProgress,
  type JobRequest,
} from '../../contracts/index.ts';
import { makeResult, makeResultV2 } from '../../support/results.ts';

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
const LIMIT = 64 * 1024;

function refusal(bytes: Uint8Array, limit = LIMIT): { code: ErrorCode; reason: string } {
  const decoded = resultBatchCodec.decode(bytes, limit);
  if (decoded.ok) throw new Error(`expected a refusal, got ${JSON.stringify(decoded.value)}`);
  return decoded;
}

describe('result batch codec', () => {
  const valid = makeResult(1);
  const metric = valid.metrics[0];
  if (metric === undefined) throw new Error('makeResult gave no metric');

  it('decodes a valid batch to the same value', () => {
    const bytes = resultBatchCodec.encode(valid);
    expect(resultBatchCodec.decode(bytes, LIMIT)).toEqual({ ok: true, value: valid });
    expect(resultBatchCodec.currentVersion).toBe(2);
  });

  it('accepts a payload of exactly the limit and refuses one byte more', () => {
    const bytes = resultBatchCodec.encode(valid);
    expect(resultBatchCodec.decode(bytes, bytes.length).ok).toBe(true);
    const refused = refusal(bytes, bytes.length - 1);
    expect(refused.code).toBe('BERTH_ERR_TOO_LARGE');
    expect(refused.reason).toBe(
      `result batch: ${bytes.length} bytes is over the limit of ${bytes.length - 1} bytes`,
    );
  });

  it.each<[string, Uint8Array, ErrorCode, RegExp]>([
    ['empty', new Uint8Array(), 'BERTH_ERR_EMPTY', /^result batch: the payload is empty$/],
    [
      'too large',
      encode({ ...valid, pad: 'x'.repeat(LIMIT) }),
      'BERTH_ERR_TOO_LARGE',
      /^result batch: \d+ bytes is over the limit of 65536 bytes$/,
    ],
    [
      'invalid UTF-8 (a bad continuation byte)',
      new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]),
      'BERTH_ERR_NOT_UTF8',
      /^result batch: the payload is not valid UTF-8$/,
    ],
    [
      'invalid UTF-8 (an overlong encoding of "/")',
      new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d]),
      'BERTH_ERR_NOT_UTF8',
      /UTF-8/,
    ],
    [
      'invalid UTF-8 (an encoded surrogate)',
      new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]),
      'BERTH_ERR_NOT_UTF8',
      /UTF-8/,
    ],
    [
      'invalid UTF-8 (a sequence cut at the end)',
      new Uint8Array([0x22, 0xe2, 0x82]),
      'BERTH_ERR_NOT_UTF8',
      /UTF-8/,
    ],
    ['not JSON (cut short)', bytesOf('{"a":'), 'BERTH_ERR_NOT_JSON', /^result batch: .*not JSON/],
    ['not JSON (NaN)', bytesOf('{"value":NaN}'), 'BERTH_ERR_NOT_JSON', /not JSON/],
    ['not JSON (plain text)', bytesOf('hello'), 'BERTH_ERR_NOT_JSON', /not JSON/],
    ['an array', encode([valid]), 'BERTH_ERR_NOT_OBJECT', /^result batch: expected a JSON object$/],
    ['a number', encode(42), 'BERTH_ERR_NOT_OBJECT', /object/],
    ['null', encode(null), 'BERTH_ERR_NOT_OBJECT', /object/],
    ['true', encode(true), 'BERTH_ERR_NOT_OBJECT', /object/],
    ['a string', encode('{}'), 'BERTH_ERR_NOT_OBJECT', /object/],
    [
      'no schemaVersion',
      encode({ ...valid, schemaVersion: undefined }),
      'BERTH_ERR_NO_SCHEMA_VERSION',
      /^result batch: field \/schemaVersion is missing$/,
    ],
    [
      'schemaVersion 3',
      encode({ ...valid, schemaVersion: 3 }),
      'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
      /^result batch: schemaVersion 3 is not known \(known: 1, 2\)$/,
    ],
    [
      'schemaVersion 2 without the fields of version 2',
      encode({ ...valid, schemaVersion: 2 }),
      'BERTH_ERR_SCHEMA',
      /^result batch: field \/rounds expected required property$/,
    ],
    [
      'schemaVersion 1 with a field of version 2',
      encode({ ...valid, uncalibrated: false }),
      'BERTH_ERR_SCHEMA',
      /^result batch: field \/uncalibrated unexpected property$/,
    ],
    [
      'schemaVersion "1"',
      encode({ ...valid, schemaVersion: '1' }),
      'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
      /schemaVersion "1" is not known/,
    ],
    [
      'schemaVersion null',
      encode({ ...valid, schemaVersion: null }),
      'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
      /schemaVersion null is not known/,
    ],
    [
      'a missing field',
      encode({ ...valid, runId: undefined }),
      'BERTH_ERR_SCHEMA',
      /^result batch: field \/runId expected required property$/,
    ],
    [
      'a wrong type',
      encode({ ...valid, metrics: [{ ...metric, value: 'fast' }] }),
      'BERTH_ERR_SCHEMA',
      /^result batch: field \/metrics\/0\/value expected number$/,
    ],
    [
      'a fractional timestamp',
      encode({ ...valid, takenAt: 1.5 }),
      'BERTH_ERR_SCHEMA',
      /field \/takenAt expected integer/,
    ],
    [
      'an extra property',
      encode({ ...valid, extra: true }),
      'BERTH_ERR_SCHEMA',
      /^result batch: field \/extra unexpected property$/,
    ],
    [
      'an extra property deep inside',
      encode({ ...valid, metrics: [{ ...metric, bogus: 1 }] }),
      'BERTH_ERR_SCHEMA',
      /field \/metrics\/0\/bogus unexpected property/,
    ],
    [
      'a __proto__ property',
      bytesOf(JSON.stringify(valid).replace('{', '{"__proto__":{"polluted":true},')),
      'BERTH_ERR_SCHEMA',
      /field \/__proto__ unexpected property/,
    ],
    [
      'a bad metric name',
      encode({ ...valid, metrics: [{ ...metric, name: 'Bad Name' }] }),
      'BERTH_ERR_SCHEMA',
      /^result batch: field \/metrics\/0\/name expected string to match/,
    ],
    [
      'a bad name in the second metric',
      encode({ ...valid, metrics: [metric, { ...metric, name: 'x;y' }] }),
      'BERTH_ERR_SCHEMA',
      /field \/metrics\/1\/name/,
    ],
    ['no metrics', encode({ ...valid, metrics: [] }), 'BERTH_ERR_SCHEMA', /field \/metrics /],
    [
      'zero samples',
      encode({ ...valid, metrics: [{ ...metric, samples: 0 }] }),
      'BERTH_ERR_SCHEMA',
      /field \/metrics\/0\/samples/,
    ],
    ['an unsafe host id', encode({ ...valid, hostId: 'a.b' }), 'BERTH_ERR_SCHEMA', /\/hostId/],
    [
      'an unknown accel',
      encode({ ...valid, platform: { ...valid.platform, accel: 'magic' } }),
      'BERTH_ERR_SCHEMA',
      /field \/platform\/accel/,
    ],
    [
      'a settings key outside its pattern',
      encode({ ...valid, platform: { ...valid.platform, settings: { 'a b': 1 } } }),
      'BERTH_ERR_SCHEMA',
      /field \/platform\/settings\/a b unexpected property/,
    ],
    [
      'a settings value that is an object',
      encode({ ...valid, platform: { ...valid.platform, settings: { cpus: { n: 1 } } } }),
      'BERTH_ERR_SCHEMA',
      /field \/platform\/settings\/cpus/,
    ],
  ])('refuses %s with its code and a reason naming the problem', (_, bytes, code, reason) => {
    const refused = refusal(bytes);
    expect(refused.code).toBe(code);
    expect(refused.reason).toMatch(reason);
  });

  it('checks the size before anything else, so a huge payload is never parsed', () => {
    const huge = new Uint8Array(LIMIT + 1).fill(0xff);
    expect(refusal(huge).code).toBe('BERTH_ERR_TOO_LARGE');
  });

  it('parse stops before the schema, check takes an already-parsed value', () => {
    expect(resultBatchCodec.parse(encode({ anything: 1 }), LIMIT)).toEqual({
      ok: true,
      value: { anything: 1 },
    });
    expect(resultBatchCodec.check(JSON.parse(JSON.stringify(valid)))).toEqual({
      ok: true,
      value: valid,
    });
    expect(resultBatchCodec.check(undefined)).toMatchObject({
      ok: false,
      code: 'BERTH_ERR_NOT_OBJECT',
    });
  });
});

describe('result batch codec, version 2', () => {
  const valid = makeResultV2(1);
  const [metric] = valid.metrics;
  const comparison = metric?.comparison;
  if (comparison === undefined) throw new Error('makeResultV2 gave no comparison');
  const withComparison = (change: Record<string, unknown>): Uint8Array =>
    encode({ ...valid, metrics: [{ ...metric, comparison: { ...comparison, ...change } }] });

  it('decodes a batch with rounds and comparisons to the same value', () => {
    const baseline = makeResultV2(0);
    expect(baseline.metrics[0]?.comparison).toBeUndefined();
    for (const batch of [valid, baseline]) {
      expect(resultBatchCodec.decode(resultBatchCodec.encode(batch), LIMIT)).toEqual({
        ok: true,
        value: batch,
      });
    }
  });

  it('accepts a batch without per-metric rounds, and the longest lists allowed', () => {
    const longest = Array.from({ length: 1000 }, (_, round) => 1 + round / 1000);
    const batches = [
      {
        ...valid,
        metrics: valid.metrics.map(({ name, unit, value, samples, rme }) => ({
          name,
          unit,
          value,
          samples,
          rme,
        })),
      },
      {
        ...valid,
        rounds: { ...valid.rounds, count: 1000 },
        metrics: [
          {
            ...metric,
            roundValues: longest,
            comparison: { ...comparison, perRound: longest, rounds: 1000 },
          },
        ],
      },
    ];
    for (const batch of batches) expect(resultBatchCodec.check(batch).ok).toBe(true);
  });

  it.each<[string, Uint8Array, RegExp]>([
    [
      'an unknown verdict',
      withComparison({ verdict: 'maybe' }),
      /field \/metrics\/0\/comparison\/verdict /,
    ],
    [
      'an unknown method',
      withComparison({ method: 'z' }),
      /field \/metrics\/0\/comparison\/method /,
    ],
    [
      'an interval of one number',
      withComparison({ ci95: [0.9] }),
      /field \/metrics\/0\/comparison\/ci95 /,
    ],
    [
      'an interval of three numbers',
      withComparison({ ci95: [0.9, 1, 1.1] }),
      /field \/metrics\/0\/comparison\/ci95 /,
    ],
    [
      'an interval reaching 0',
      withComparison({ ci95: [0, 1.1] }),
      /field \/metrics\/0\/comparison\/ci95\/0 /,
    ],
    ['a ratio of 0', withComparison({ ratio: 0 }), /field \/metrics\/0\/comparison\/ratio /],
    [
      'a negative per-round ratio',
      withComparison({ perRound: [1, -1] }),
      /field \/metrics\/0\/comparison\/perRound\/1 /,
    ],
    [
      'no per-round ratios',
      withComparison({ perRound: [] }),
      /field \/metrics\/0\/comparison\/perRound /,
    ],
    [
      '1001 per-round ratios',
      withComparison({ perRound: Array.from({ length: 1001 }, () => 1) }),
      /field \/metrics\/0\/comparison\/perRound /,
    ],
    ['0 rounds used', withComparison({ rounds: 0 }), /field \/metrics\/0\/comparison\/rounds /],
    ['a margin of 0', withComparison({ margin: 0 }), /field \/metrics\/0\/comparison\/margin /],
    ['a margin over 1', withComparison({ margin: 1.5 }), /field \/metrics\/0\/comparison\/margin /],
    [
      'fractional rounds to decide',
      withComparison({ roundsToDecide: 2.5 }),
      /field \/metrics\/0\/comparison\/roundsToDecide /,
    ],
    [
      'a baseline that is not platform:runtime',
      withComparison({ baseline: 'process' }),
      /field \/metrics\/0\/comparison\/baseline /,
    ],
    [
      'a comparison missing its verdict',
      withComparison({ verdict: undefined }),
      /field \/metrics\/0\/comparison\/verdict expected required property/,
    ],
    [
      'an extra property in a comparison',
      withComparison({ pValue: 0.5 }),
      /field \/metrics\/0\/comparison\/pValue unexpected property/,
    ],
    [
      '1001 round values',
      encode({
        ...valid,
        metrics: [{ ...metric, roundValues: Array.from({ length: 1001 }, () => 1) }],
      }),
      /field \/metrics\/0\/roundValues /,
    ],
    [
      'a round value that is text',
      encode({ ...valid, metrics: [{ ...metric, roundValues: [1, '2'] }] }),
      /field \/metrics\/0\/roundValues\/1 /,
    ],
    [
      '0 rounds run',
      encode({ ...valid, rounds: { ...valid.rounds, count: 0 } }),
      /field \/rounds\/count /,
    ],
    [
      '1001 rounds run',
      encode({ ...valid, rounds: { ...valid.rounds, count: 1001 } }),
      /field \/rounds\/count /,
    ],
    [
      'negative disturbed rounds',
      encode({ ...valid, rounds: { ...valid.rounds, disturbed: -1 } }),
      /field \/rounds\/disturbed /,
    ],
    [
      'a seed of 65 characters',
      encode({ ...valid, rounds: { ...valid.rounds, seed: 's'.repeat(65) } }),
      /field \/rounds\/seed /,
    ],
    [
      'a host fingerprint of 129 characters',
      encode({ ...valid, hostFingerprint: 'f'.repeat(129) }),
      /field \/hostFingerprint /,
    ],
    ['uncalibrated as text', encode({ ...valid, uncalibrated: 'no' }), /field \/uncalibrated /],
    [
      'no host fingerprint',
      encode({ ...valid, hostFingerprint: undefined }),
      /field \/hostFingerprint expected required property/,
    ],
  ])('refuses %s, naming the field', (_, bytes, reason) => {
    const refused = refusal(bytes);
    expect(refused.code).toBe('BERTH_ERR_SCHEMA');
    expect(refused.reason).toMatch(/^result batch: field /);
    expect(refused.reason).toMatch(reason);
  });
});

describe('the other message codecs', () => {
  const inventory: HostInventory = {
    schemaVersion: 1,
    type: 'inventory',
    hostId: 'host-a',
    sentAt: 1,
    agentVersion: '0.1.0',
    cpu: { model: 'x86', cores: 2, threads: 4, flags: ['sse2', 'avx2'] },
    memoryBytes: 1024,
    os: { family: 'linux', distro: 'debian', release: '12', kernel: '6.1.0', arch: 'x64' },
    virtualised: { is: true, hypervisor: 'kvm' },
    cgroup: 'hybrid',
    platforms: [
      { platform: 'process', runtime: 'cgroup', available: true, accel: 'none' },
      { platform: 'vm', runtime: 'qemu', available: false, reason: 'no KVM' },
    ],
  };
  const heartbeat: Heartbeat = {
    schemaVersion: 1,
    type: 'heartbeat',
    hostId: 'host-a',
    sentAt: 1,
    uptimeSeconds: 5.5,
    busy: true,
    runId: 'run-1',
  };
  const jobRequest: JobRequest = {
    schemaVersion: 1,
    id: 'job-1',
    hostId: 'host-a',
    requestedAt: 1,
    requestedBy: 'advisor',
    suite: 'quick',
    platforms: ['process'],
  };
  const jobProgress: JobProgress = {
    schemaVersion: 1,
    jobId: 'job-1',
    hostId: 'host-a',
    at: 1,
    state: 'failed',
    done: 1,
    total: 4,
    error: { code: 'BERTH_ERR_SERVER_START', message: 'runc is missing' },
  };
  const deadLetter: DeadLetter = {
    schemaVersion: 1,
    receivedAt: 1,
    subject: 'berth.results.host-a',
    streamSequence: 3,
    msgId: 'r-1',
    code: 'BERTH_ERR_NOT_JSON',
    reason: 'not JSON',
    payloadBytes: 1,
    payloadBase64: 'eA==',
    truncated: false,
  };

  it.each([
    [hostInventoryCodec.name, hostInventoryCodec.encode(inventory), inventory],
    [heartbeatCodec.name, heartbeatCodec.encode(heartbeat), heartbeat],
    [jobRequestCodec.name, jobRequestCodec.encode(jobRequest), jobRequest],
    [jobProgressCodec.name, jobProgressCodec.encode(jobProgress), jobProgress],
    [deadLetterCodec.name, deadLetterCodec.encode(deadLetter), deadLetter],
  ])('%s: a valid message decodes to the same value', (name, bytes, message) => {
    const codec = [
      hostInventoryCodec,
      heartbeatCodec,
      jobRequestCodec,
      jobProgressCodec,
      deadLetterCodec,
    ].find((candidate) => candidate.name === name);
    expect(codec?.decode(bytes, LIMIT)).toEqual({ ok: true, value: message });
  });

  it('each refuses a broken message, naming the field', () => {
    const broken: [string, { ok: boolean; reason?: string }, string][] = [
      [
        'inventory',
        hostInventoryCodec.check({ ...inventory, cgroup: 'v3' }),
        'host inventory: field /cgroup',
      ],
      [
        'inventory cpu',
        hostInventoryCodec.check({ ...inventory, cpu: { ...inventory.cpu, cores: 0 } }),
        'host inventory: field /cpu/cores',
      ],
      ['heartbeat', heartbeatCodec.check({ ...heartbeat, busy: 'yes' }), 'heartbeat: field /busy'],
      [
        'job request',
        jobRequestCodec.check({ ...jobRequest, suite: 'huge' }),
        'job request: field /suite',
      ],
      [
        'job request id',
        jobRequestCodec.check({ ...jobRequest, hostId: 'host.*' }),
        'job request: field /hostId',
      ],
      [
        'job progress',
        jobProgressCodec.check({ ...jobProgress, state: 'paused' }),
        'job progress: field /state',
      ],
      [
        'dead letter',
        deadLetterCodec.check({ ...deadLetter, code: 'BERTH_ERR_MADE_UP' }),
        'dead letter: field /code',
      ],
    ];
    for (const [what, decoded, reason] of broken) {
      expect(decoded.ok, what).toBe(false);
      expect(decoded.reason, what).toContain(reason);
    }
  });
});
