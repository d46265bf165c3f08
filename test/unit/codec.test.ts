import { describe, expect, it } from 'vitest';
import {
  deadLetterCodec,
  heartbeatCodec,
  hostInventoryCodec,
  jobProgressCodec,
  jobRequestCodec,
  resultBatchCodec,
  type ErrorCode,
} from '../../contracts/index.ts';
import { makeResult } from '../helpers/results.ts';

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const LIMIT = 64 * 1024;

function refusal(bytes: Uint8Array): { code: ErrorCode; reason: string } {
  const decoded = resultBatchCodec.decode(bytes, LIMIT);
  if (decoded.ok) throw new Error('expected a refusal');
  return decoded;
}

describe('result batch codec', () => {
  const valid = makeResult(1);

  it('decodes a valid batch to the same value', () => {
    const decoded = resultBatchCodec.decode(resultBatchCodec.encode(valid), LIMIT);
    expect(decoded).toEqual({ ok: true, value: valid });
  });

  it.each<[string, Uint8Array, ErrorCode, RegExp]>([
    ['empty', new Uint8Array(), 'BERTH_ERR_EMPTY', /empty/],
    [
      'too large',
      encode({ ...valid, pad: 'x'.repeat(LIMIT) }),
      'BERTH_ERR_TOO_LARGE',
      /over the limit of 65536 bytes/,
    ],
    ['not UTF-8', new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), 'BERTH_ERR_NOT_UTF8', /UTF-8/],
    ['not JSON', new TextEncoder().encode('{"a":'), 'BERTH_ERR_NOT_JSON', /not JSON/],
    ['an array', encode([valid]), 'BERTH_ERR_NOT_OBJECT', /object/],
    ['a number', encode(42), 'BERTH_ERR_NOT_OBJECT', /object/],
    ['null', encode(null), 'BERTH_ERR_NOT_OBJECT', /object/],
    [
      'no schemaVersion',
      encode({ ...valid, schemaVersion: undefined }),
      'BERTH_ERR_NO_SCHEMA_VERSION',
      /\/schemaVersion/,
    ],
    [
      'schemaVersion 2',
      encode({ ...valid, schemaVersion: 2 }),
      'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
      /schemaVersion 2 is not known \(known: 1\)/,
    ],
    [
      'schemaVersion "1"',
      encode({ ...valid, schemaVersion: '1' }),
      'BERTH_ERR_UNKNOWN_SCHEMA_VERSION',
      /"1"/,
    ],
    ['a missing field', encode({ ...valid, runId: undefined }), 'BERTH_ERR_SCHEMA', /\/runId/],
    [
      'a wrong type',
      encode({ ...valid, metrics: [{ ...valid.metrics[0], value: 'fast' }] }),
      'BERTH_ERR_SCHEMA',
      /\/metrics\/0\/value/,
    ],
    ['an extra property', encode({ ...valid, extra: true }), 'BERTH_ERR_SCHEMA', /\/extra/],
    [
      'a bad metric name',
      encode({ ...valid, metrics: [{ ...valid.metrics[0], name: 'Bad Name' }] }),
      'BERTH_ERR_SCHEMA',
      /\/metrics\/0\/name/,
    ],
    ['no metrics', encode({ ...valid, metrics: [] }), 'BERTH_ERR_SCHEMA', /\/metrics/],
    ['an unsafe host id', encode({ ...valid, hostId: 'a.b' }), 'BERTH_ERR_SCHEMA', /\/hostId/],
    [
      'an unknown accel',
      encode({ ...valid, platform: { ...valid.platform, accel: 'magic' } }),
      'BERTH_ERR_SCHEMA',
      /\/platform\/accel/,
    ],
  ])('refuses %s with its code and a reason naming the problem', (_, bytes, code, reason) => {
    const refused = refusal(bytes);
    expect(refused.code).toBe(code);
    expect(refused.reason).toMatch(reason);
  });
});

describe('the other message codecs', () => {
  it('accept a valid message of each kind and refuse a broken one by field', () => {
    const samples = [
      [
        hostInventoryCodec,
        {
          schemaVersion: 1,
          type: 'inventory',
          hostId: 'host-a',
          sentAt: 1,
          agentVersion: '0.1.0',
          cpu: { model: 'x86', cores: 2, threads: 2, flags: ['sse2'] },
          memoryBytes: 1024,
          os: { family: 'linux', distro: 'debian', release: '12', kernel: '6.1.0', arch: 'x64' },
          virtualised: { is: true, hypervisor: 'kvm' },
          cgroup: 'hybrid',
          platforms: [{ platform: 'vm', runtime: 'qemu', available: false, reason: 'no KVM' }],
        },
        'cgroup',
      ],
      [
        heartbeatCodec,
        {
          schemaVersion: 1,
          type: 'heartbeat',
          hostId: 'host-a',
          sentAt: 1,
          uptimeSeconds: 5,
          busy: false,
        },
        'busy',
      ],
      [
        jobRequestCodec,
        {
          schemaVersion: 1,
          id: 'job-1',
          hostId: 'host-a',
          requestedAt: 1,
          requestedBy: 'advisor',
          suite: 'quick',
        },
        'suite',
      ],
      [
        jobProgressCodec,
        {
          schemaVersion: 1,
          jobId: 'job-1',
          hostId: 'host-a',
          at: 1,
          state: 'running',
          done: 1,
          total: 4,
        },
        'state',
      ],
      [
        deadLetterCodec,
        {
          schemaVersion: 1,
          receivedAt: 1,
          subject: 'berth.results.host-a',
          streamSequence: 3,
          code: 'BERTH_ERR_NOT_JSON',
          reason: 'not JSON',
          payloadBytes: 1,
          payloadBase64: 'eA==',
          truncated: false,
        },
        'code',
      ],
    ] as const;
    for (const [codec, message, field] of samples) {
      expect(codec.check(message), codec.name).toEqual({ ok: true, value: message });
      const broken = codec.check({ ...message, [field]: 'not-valid-here' });
      expect(broken.ok, codec.name).toBe(false);
      if (!broken.ok) expect(broken.reason).toContain(`/${field}`);
    }
  });
});
