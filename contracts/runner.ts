import { Type, type Static } from '@sinclair/typebox';
import { Metric } from './result.ts';

/**
 * What the workload runner prints, one JSON object per line, inside every platform. The
 * agent reads these lines from outside (stdout of a process, a container or a VM's serial
 * console) and checks each against this schema. Where one instance holds several runners
 * (containers inside one VM), each names itself in `instance`.
 */
const InstanceLabel = Type.Optional(
  Type.String({
    pattern: '^[a-z0-9][a-z0-9_-]{0,15}$',
    description: 'which runner of the instance',
  }),
);

export const RunnerReadyV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    type: Type.Literal('ready'),
    instance: InstanceLabel,
    /** The runner's own clock (epoch ms) when it could start measuring. */
    at: Type.Number(),
    node: Type.String({ maxLength: 64 }),
    kernel: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false },
);

export const RunnerResultV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    type: Type.Literal('result'),
    instance: InstanceLabel,
    workload: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' }),
    metrics: Type.Array(Metric, { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false },
);

export const RunnerErrorV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    type: Type.Literal('error'),
    instance: InstanceLabel,
    workload: Type.Optional(Type.String({ maxLength: 64 })),
    message: Type.String({ maxLength: 2048 }),
  },
  { additionalProperties: false },
);

export const RunnerDoneV1 = Type.Object(
  { schemaVersion: Type.Literal(1), type: Type.Literal('done'), instance: InstanceLabel },
  { additionalProperties: false },
);

export const RunnerLineV1 = Type.Union(
  [RunnerReadyV1, RunnerResultV1, RunnerErrorV1, RunnerDoneV1],
  {
    $id: 'RunnerLineV1',
  },
);

export type RunnerLine = Static<typeof RunnerLineV1>;
export type RunnerResult = Static<typeof RunnerResultV1>;
