import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { AdviceV1, AdviceQuestionV1, checkQuestion } from './advice.ts';
import { HostInventoryV1 } from './inventory.ts';
import { JobProgressV1 } from './job.ts';

/**
 * The frames of the advisor's WebSocket (/v1/ws): one JSON object per frame, told apart by
 * `type`. A client asks, watches a question (answered again whenever new evidence changes the
 * answer) and subscribes to results, fleet changes and job progress; the server answers,
 * tells and, for a frame it cannot take, says which field is at fault and keeps the
 * connection open.
 */

/** The largest frame the server reads; a larger one gets an error frame. */
export const MAX_FRAME_BYTES = 64 * 1024;

const FrameId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: "the client's name for a question; answers carry it back",
});

const TOPICS = ['results', 'fleet', 'jobs'] as const;

export const Topic = Type.Union(TOPICS.map((topic) => Type.Literal(topic)));

export const AskFrame = Type.Object(
  { type: Type.Literal('ask'), id: Type.Optional(FrameId), question: AdviceQuestionV1 },
  { additionalProperties: false, $id: 'AskFrame', description: 'answer the question once' },
);

export const WatchFrame = Type.Object(
  { type: Type.Literal('watch'), id: Type.Optional(FrameId), question: AdviceQuestionV1 },
  {
    additionalProperties: false,
    $id: 'WatchFrame',
    description: 'answer now, and again whenever new evidence changes the answer',
  },
);

export const UnwatchFrame = Type.Object(
  { type: Type.Literal('unwatch'), id: FrameId },
  { additionalProperties: false, $id: 'UnwatchFrame', description: 'stop watching' },
);

export const SubscribeFrame = Type.Object(
  {
    type: Type.Literal('subscribe'),
    topics: Type.Array(Topic, { minItems: 1, maxItems: TOPICS.length, uniqueItems: true }),
  },
  {
    additionalProperties: false,
    $id: 'SubscribeFrame',
    description:
      "be told of new results, of hosts whose inventory or heartbeat changed, and of the agents' job progress",
  },
);

export const ClientFrame = Type.Union([AskFrame, WatchFrame, UnwatchFrame, SubscribeFrame], {
  $id: 'ClientFrame',
});

export const AnswerFrame = Type.Object(
  {
    type: Type.Literal('answer'),
    id: Type.Optional(FrameId),
    advice: AdviceV1,
    why: Type.Union([Type.Literal('asked'), Type.Literal('evidence')]),
  },
  { additionalProperties: false, $id: 'AnswerFrame' },
);

export const ResultsFrame = Type.Object(
  {
    type: Type.Literal('results'),
    hosts: Type.Array(Type.String(), { description: 'hosts whose results were stored' }),
    results: Type.Integer({ minimum: 0, description: 'result batches stored' }),
    at: Type.Integer({ description: 'when the advisor read the evidence again, epoch ms' }),
  },
  { additionalProperties: false, $id: 'ResultsFrame' },
);

export const HostView = Type.Object(
  {
    hostId: Type.String(),
    lastSeenAt: Type.Integer(),
    heartbeatAgeMs: Type.Integer({ minimum: 0 }),
    busy: Type.Boolean(),
    runId: Type.Optional(
      Type.String({ description: 'the run going on now, from the last heartbeat' }),
    ),
    lastRun: Type.Optional(
      Type.Object(
        {
          runId: Type.String(),
          seenAt: Type.Integer({ description: 'the last heartbeat that named it, epoch ms' }),
        },
        { additionalProperties: false, description: 'the last run a heartbeat named' },
      ),
    ),
    inventory: Type.Optional(
      Type.Object(
        {
          sentAt: Type.Integer(),
          agentVersion: Type.String(),
          cpu: Type.Object({
            model: Type.String(),
            cores: Type.Integer(),
            threads: Type.Integer(),
          }),
          memoryBytes: Type.Integer(),
          os: HostInventoryV1.properties.os,
          virtualised: HostInventoryV1.properties.virtualised,
          cgroup: HostInventoryV1.properties.cgroup,
        },
        { additionalProperties: false },
      ),
    ),
    platforms: HostInventoryV1.properties.platforms,
  },
  { additionalProperties: false, $id: 'HostView' },
);

export const HostFrame = Type.Object(
  { type: Type.Literal('host'), host: HostView },
  { additionalProperties: false, $id: 'HostFrame' },
);

export const JobFrame = Type.Object(
  { type: Type.Literal('job'), progress: JobProgressV1 },
  {
    additionalProperties: false,
    $id: 'JobFrame',
    description: "an agent's progress on a job, as it published it on berth.progress.<hostId>",
  },
);

export const ErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    id: Type.Optional(FrameId),
    code: Type.String(),
    field: Type.Optional(Type.String()),
    message: Type.String(),
  },
  { additionalProperties: false, $id: 'ErrorFrame' },
);

export const ServerFrame = Type.Union(
  [AnswerFrame, ResultsFrame, HostFrame, JobFrame, ErrorFrame],
  {
    $id: 'ServerFrame',
  },
);

export type ClientFrame = Static<typeof ClientFrame>;
export type ServerFrame = Static<typeof ServerFrame>;
export type HostView = Static<typeof HostView>;
export type Topic = Static<typeof Topic>;

/** A frame the server cannot take: the code, the field at fault (dotted) and why. */
export interface FrameProblem {
  readonly code: 'BERTH_ERR_FRAME' | 'BERTH_ERR_QUESTION';
  readonly field: string;
  readonly message: string;
}

const FRAME_TYPES = ['ask', 'watch', 'unwatch', 'subscribe'] as const;

const envelopes = {
  ask: TypeCompiler.Compile(Type.Omit(AskFrame, ['question'])),
  watch: TypeCompiler.Compile(Type.Omit(WatchFrame, ['question'])),
  unwatch: TypeCompiler.Compile(UnwatchFrame),
  subscribe: TypeCompiler.Compile(SubscribeFrame),
};

function isFrameType(value: unknown): value is (typeof FRAME_TYPES)[number] {
  return FRAME_TYPES.some((type) => type === value);
}

/** The frame's fields but the question, so the envelope is checked on its own. */
function envelopeOf(frame: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(frame).filter(([key]) => key !== 'question'));
}

/** A problem with a field of the frame itself (not of its question). */
function envelopeProblem(
  type: (typeof FRAME_TYPES)[number],
  frame: Record<string, unknown>,
): FrameProblem | undefined {
  const checker = envelopes[type];
  const envelope = envelopeOf(frame);
  if (checker.Check(envelope)) return undefined;
  const error = checker.Errors(envelope).First();
  const field = (error?.path ?? '').slice(1).replace(/\/(\d+)/g, '[$1]') || '(the frame)';
  const message =
    error === undefined
      ? 'is invalid'
      : error.message === 'Expected required property'
        ? 'is required'
        : error.message === 'Unexpected property'
          ? `is not a field of a ${type} frame`
          : field.startsWith('topics[')
            ? `must be one of ${TOPICS.join(', ')}`
            : error.message.charAt(0).toLowerCase() + error.message.slice(1);
  return { code: 'BERTH_ERR_FRAME', field, message };
}

/**
 * Checks a parsed frame: that it is an object of a known type, its own fields, then its
 * question with `checkQuestion` (a question's field is named under `question.`).
 */
export function checkClientFrame(
  value: unknown,
): { ok: true; frame: ClientFrame } | { ok: false; problem: FrameProblem } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      problem: { code: 'BERTH_ERR_FRAME', field: '(the frame)', message: 'must be a JSON object' },
    };
  }
  const frame = value as Record<string, unknown>;
  const type = frame['type'];
  if (!isFrameType(type)) {
    return {
      ok: false,
      problem: {
        code: 'BERTH_ERR_FRAME',
        field: 'type',
        message: `must be one of ${FRAME_TYPES.join(', ')}`,
      },
    };
  }
  const problem = envelopeProblem(type, frame);
  if (problem !== undefined) return { ok: false, problem };
  if (type === 'ask' || type === 'watch') {
    if (!('question' in frame)) {
      return {
        ok: false,
        problem: { code: 'BERTH_ERR_FRAME', field: 'question', message: 'is required' },
      };
    }
    const checked = checkQuestion(frame['question']);
    if (!checked.ok) {
      const inner = checked.problem.field;
      return {
        ok: false,
        problem: {
          code: 'BERTH_ERR_QUESTION',
          field: inner === '(the question)' ? 'question' : `question.${inner}`,
          message: checked.problem.message,
        },
      };
    }
  }
  return { ok: true, frame: value as ClientFrame };
}
