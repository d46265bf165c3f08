import { Type, type Static } from '@sinclair/typebox';
import { ErrorCodes } from './errors.ts';

const ErrorCode = Type.Union(Object.keys(ErrorCodes).map((code) => Type.Literal(code)));

/** What the ingest service publishes on `berth.dlq` for a message it could not accept. */
export const DeadLetterV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    receivedAt: Type.Integer({ minimum: 0 }),
    subject: Type.String({ maxLength: 256 }),
    streamSequence: Type.Integer({ minimum: 0 }),
    msgId: Type.Optional(Type.String({ maxLength: 256 })),
    code: ErrorCode,
    reason: Type.String({ maxLength: 2048 }),
    payloadBytes: Type.Integer({ minimum: 0 }),
    payloadBase64: Type.String({ description: 'the original bytes, base64' }),
    truncated: Type.Boolean({
      description: 'true when the payload was cut to fit the server limit',
    }),
  },
  { additionalProperties: false, $id: 'DeadLetterV1' },
);

export type DeadLetter = Static<typeof DeadLetterV1>;
