import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import { validRange } from 'semver';
import { HostId } from './ids.ts';
import { SENSITIVITY_NAMES, type SensitivityName } from './workloads.ts';

/**
 * The advisor's public API: the question an engineer asks (POST /v1/advice, the WebSocket
 * frame `ask`, `berth advise`) and the answer it gets. The question has no schemaVersion of
 * its own: its version is the API's (/v1).
 */
export const OsFamily = Type.Union([
  Type.Literal('linux'),
  Type.Literal('windows'),
  Type.Literal('freebsd'),
  Type.Literal('other'),
]);

export const Sensitivity = Type.Union(SENSITIVITY_NAMES.map((name) => Type.Literal(name)));

/**
 * Who else runs on the workload's hosts: only the team's own work, or other tenants' work
 * beside it (noisy neighbours). A question that names none means `own`.
 */
export const NEIGHBOURS = ['own', 'shared'] as const;

export const AdviceQuestionV1 = Type.Object(
  {
    workload: Type.String({ minLength: 1, maxLength: 128, description: 'a name for the workload' }),
    os: Type.Object(
      {
        family: OsFamily,
        kernel: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 64,
            description: 'semver range the kernel must satisfy, e.g. ">=6.8"',
          }),
        ),
        kernelModules: Type.Optional(Type.Boolean({ description: 'loads its own kernel modules' })),
        fullOs: Type.Optional(
          Type.Boolean({
            description:
              'needs a dedicated OS of its own (own init, system services, kernel tuning)',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    lifetimeSeconds: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1e10,
      description: 'expected life of one instance',
    }),
    instances: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: 'how many run at once',
    }),
    trust: Type.Union([Type.Literal('trusted'), Type.Literal('untrusted')], {
      description: 'untrusted = code from outside the team or other tenants',
    }),
    neighbours: Type.Optional(
      Type.Union(
        NEIGHBOURS.map((name) => Type.Literal(name)),
        {
          description:
            "who else runs on its hosts: own (default) = only the team's own work; shared = other tenants' work beside it, so the slowdown measured beside noisy neighbours counts (untrusted code counts it too)",
        },
      ),
    ),
    startupBudgetMs: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1e9,
        description: 'hard limit on start-up latency',
      }),
    ),
    memoryMiB: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1e8,
        description: "the workload's own memory per instance",
      }),
    ),
    sensitivity: Type.Optional(Type.Array(Sensitivity, { maxItems: 5, uniqueItems: true })),
    hosts: Type.Optional(Type.Array(HostId, { maxItems: 256, uniqueItems: true })),
  },
  { additionalProperties: false, $id: 'AdviceQuestionV1' },
);

export type AdviceQuestion = Static<typeof AdviceQuestionV1>;
export type OsFamilyName = Static<typeof OsFamily>;
export type { SensitivityName };

/** Where a figure behind a score comes from. */
export const EvidenceV1 = Type.Object(
  {
    source: Type.Union([Type.Literal('measured'), Type.Literal('published')]),
    platform: Type.String(),
    runtime: Type.String(),
    accel: Type.String(),
    workload: Type.String(),
    metric: Type.String(),
    unit: Type.String(),
    /** The figure used: a mean, a p95 or a ratio to the bare process, as `used` says. */
    value: Type.Number(),
    used: Type.String({ description: 'what the value is, e.g. "p95 start-up"' }),
    samples: Type.Integer({ minimum: 0 }),
    hosts: Type.Array(Type.String(), {
      description: 'the hosts measured: all of them, or the first 8 by name when hostCount is set',
    }),
    hostCount: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'how many hosts were measured, when there are more than hosts names',
      }),
    ),
    /** The newest measurement's time, epoch ms; absent for published figures. */
    latestAt: Type.Optional(Type.Integer()),
    stale: Type.Boolean(),
    /** A published figure's source, or a note such as "TCG emulation". */
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ScorePartV1 = Type.Object(
  {
    name: Type.Union([
      Type.Literal('startup'),
      Type.Literal('density'),
      Type.Literal('throughput'),
      Type.Literal('isolation'),
      Type.Literal('lifetime'),
    ]),
    weight: Type.Number({ minimum: 0, maximum: 1 }),
    /** How well the option does on this part, 0 (worst) to 1 (best). */
    value: Type.Number({ minimum: 0, maximum: 1 }),
    /** weight × value × 100: what the part adds to the score. */
    points: Type.Number({ minimum: 0, maximum: 100 }),
    low: Type.Number({
      minimum: 0,
      maximum: 100,
      description: "the points at the low end of the figures' 95% intervals (= points without one)",
    }),
    high: Type.Number({
      minimum: 0,
      maximum: 100,
      description:
        "the points at the high end of the figures' 95% intervals (= points without one)",
    }),
    why: Type.String(),
  },
  { additionalProperties: false },
);

export const OptionV1 = Type.Object(
  {
    placement: Type.String(),
    runtime: Type.String(),
    score: Type.Number({ minimum: 0, maximum: 100 }),
    scoreInterval: Type.Tuple(
      [Type.Number({ minimum: 0, maximum: 100 }), Type.Number({ minimum: 0, maximum: 100 })],
      {
        description: "[low, high]: the sums of the parts' lows and highs",
      },
    ),
    tiedWithTop: Type.Boolean({
      description:
        "whether its score interval overlaps the best-scored option's (the first option too, when another is tied with it)",
    }),
    parts: Type.Array(ScorePartV1),
    reasons: Type.Array(Type.String()),
    evidence: Type.Array(EvidenceV1),
    hostsNeeded: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          "how many hosts the instances need on this option: the question's, the largest first, and beyond what they hold more hosts like the largest; absent when no host holds one instance or a figure to count with is missing",
      }),
    ),
    fleetHolds: Type.Optional(
      Type.Boolean({
        description:
          "with hostsNeeded: whether the question's hosts hold every instance (false: it counts hosts beyond them)",
      }),
    ),
    fits: Type.Optional(
      Type.Array(
        Type.Object(
          { hostId: Type.String(), fits: Type.Integer({ minimum: 0 }) },
          { additionalProperties: false },
        ),
        {
          description:
            "instances of the workload each of the question's hosts holds on this option",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const RuledOutV1 = Type.Object(
  {
    placement: Type.String(),
    runtime: Type.Optional(Type.String()),
    rule: Type.String(),
    sentence: Type.String(),
  },
  { additionalProperties: false },
);

export const HostFitV1 = Type.Object(
  {
    hostId: Type.String(),
    placement: Type.String(),
    /** The runtime of the option, where one placement has several (vm: qemu-microvm, libvirt). */
    runtime: Type.Optional(Type.String()),
    /** Instances of the workload this host's memory holds on that placement. */
    fits: Type.Integer({ minimum: 0 }),
    enough: Type.Boolean(),
    why: Type.String(),
  },
  { additionalProperties: false },
);

/** The rule that ordered the options tied with the top one, and the sentence that says so. */
export const TieBreakV1 = Type.Object(
  {
    rule: Type.String({ description: 'the rule\'s id, e.g. "stronger-isolation"' }),
    sentence: Type.String(),
  },
  { additionalProperties: false },
);

export const AdviceV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    id: Type.String(),
    answeredAt: Type.Integer(),
    question: AdviceQuestionV1,
    verdict: Type.Optional(
      Type.String({
        description:
          'the answer in one line: the first option, and the hosts the instances need on each option',
      }),
    ),
    options: Type.Array(OptionV1),
    ruledOut: Type.Array(RuledOutV1),
    tieBreak: Type.Optional(TieBreakV1),
    confidence: Type.Object(
      {
        value: Type.Number({ minimum: 0, maximum: 1 }),
        restsOn: Type.Array(Type.String()),
      },
      { additionalProperties: false },
    ),
    whatWouldChange: Type.Array(Type.String()),
    hosts: Type.Array(HostFitV1),
  },
  { additionalProperties: false, $id: 'AdviceV1' },
);

export type Evidence = Static<typeof EvidenceV1>;
export type ScorePart = Static<typeof ScorePartV1>;
export type AdviceOption = Static<typeof OptionV1>;
export type RuledOut = Static<typeof RuledOutV1>;
export type TieBreak = Static<typeof TieBreakV1>;
export type HostFit = Static<typeof HostFitV1>;
export type Advice = Static<typeof AdviceV1>;

/** An option's score with its interval, as answers print it: "81.7 [76.9–82.6]", or "81.7". */
export function scoreText(option: Pick<AdviceOption, 'score' | 'scoreInterval'>): string {
  const [low, high] = option.scoreInterval;
  const score = option.score.toFixed(1);
  return low === high ? score : `${score} [${low.toFixed(1)}–${high.toFixed(1)}]`;
}

/** A question that does not fit the schema, with the field at fault as a dotted path. */
export interface QuestionProblem {
  readonly field: string;
  readonly message: string;
}

/** A JSON pointer (/os/family, /hosts/2) as the dotted path the API names fields by. */
function dotted(pointer: string): string {
  const path = pointer
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
  return path === '' ? '(the question)' : path;
}

/** A schema error as a sentence about its field: "is required", "must be one of …". */
function describe(error: ValueError): string {
  const choices = (error.schema['anyOf'] as TSchema[] | undefined)?.map(
    (each) => each['const'] as unknown,
  );
  if (choices !== undefined && choices.every((choice) => typeof choice === 'string')) {
    return `must be one of ${choices.join(', ')}`;
  }
  if (error.message === 'Expected required property') return 'is required';
  if (error.message === 'Unexpected property') return 'is not a field of the question';
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

function compile(schema: TSchema): (value: unknown) => QuestionProblem | undefined {
  const checker = TypeCompiler.Compile(schema);
  return (value) => {
    if (checker.Check(value)) return undefined;
    const first = checker.Errors(value).First();
    return {
      field: dotted(first?.path ?? ''),
      message: first === undefined ? 'is invalid' : describe(first),
    };
  };
}

const questionProblem = compile(AdviceQuestionV1);

/**
 * Checks a question: the schema first, then what a schema cannot say (a kernel range that is
 * not a semver range). Gives the question, or the first problem with its field.
 */
export function checkQuestion(
  value: unknown,
): { ok: true; question: AdviceQuestion } | { ok: false; problem: QuestionProblem } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: { field: '(the question)', message: 'must be a JSON object' } };
  }
  const problem = questionProblem(value);
  if (problem !== undefined) return { ok: false, problem };
  const question = value as AdviceQuestion;
  const kernel = question.os.kernel;
  if (kernel !== undefined && validRange(kernel) === null) {
    return {
      ok: false,
      problem: { field: 'os.kernel', message: `is not a semver range: "${kernel}"` },
    };
  }
  return { ok: true, question };
}
