import { Type, type Static } from '@sinclair/typebox';
import { HostId, JobId, RunId } from './ids.ts';

export const JobRequestV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    id: JobId,
    hostId: HostId,
    requestedAt: Type.Integer({ minimum: 0 }),
    requestedBy: Type.String({ minLength: 1, maxLength: 128 }),
    suite: Type.Union([Type.Literal('quick'), Type.Literal('full')]),
    platforms: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 16 })),
    workloads: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
    reason: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false, $id: 'JobRequestV1' },
);

export const JobProgressV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    jobId: JobId,
    hostId: HostId,
    runId: Type.Optional(RunId),
    at: Type.Integer({ minimum: 0 }),
    state: Type.Union([
      Type.Literal('accepted'),
      Type.Literal('running'),
      Type.Literal('done'),
      Type.Literal('failed'),
      Type.Literal('rejected'),
    ]),
    done: Type.Integer({ minimum: 0 }),
    total: Type.Integer({ minimum: 0 }),
    message: Type.Optional(Type.String({ maxLength: 1024 })),
    error: Type.Optional(
      Type.Object(
        { code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1024 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'JobProgressV1' },
);

export type JobRequest = Static<typeof JobRequestV1>;
export type JobProgress = Static<typeof JobProgressV1>;
