import { Type, type Static } from '@sinclair/typebox';
import { HostId } from './ids.ts';

/**
 * What the ingest service announces on `berth.stored` (core NATS, no stream) each time a
 * batch of results is stored and acknowledged, so readers such as the advisor refresh their
 * evidence at once instead of polling. A missed notice only delays a refresh.
 */
export const StoredNoticeV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    type: Type.Literal('stored'),
    at: Type.Integer({ minimum: 0 }),
    results: Type.Integer({ minimum: 0 }),
    hosts: Type.Array(HostId, { maxItems: 10_000 }),
  },
  { additionalProperties: false, $id: 'StoredNoticeV1' },
);

export type StoredNotice = Static<typeof StoredNoticeV1>;
