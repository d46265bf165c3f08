import { Type, type Static } from '@sinclair/typebox';
import { HostId, RunId } from './ids.ts';
import { Accel } from './result.ts';

export const PlatformAvailability = Type.Object(
  {
    platform: Type.String({ maxLength: 64 }),
    runtime: Type.String({ maxLength: 64 }),
    available: Type.Boolean(),
    reason: Type.Optional(Type.String({ maxLength: 1024 })),
    version: Type.Optional(Type.String({ maxLength: 128 })),
    accel: Type.Optional(Accel),
  },
  { additionalProperties: false },
);

export const HostInventoryV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    type: Type.Literal('inventory'),
    hostId: HostId,
    sentAt: Type.Integer({ minimum: 0 }),
    agentVersion: Type.String({ maxLength: 64 }),
    cpu: Type.Object(
      {
        model: Type.String({ maxLength: 256 }),
        cores: Type.Integer({ minimum: 1 }),
        threads: Type.Integer({ minimum: 1 }),
        flags: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 512 }),
      },
      { additionalProperties: false },
    ),
    memoryBytes: Type.Integer({ minimum: 0 }),
    os: Type.Object(
      {
        family: Type.String({ maxLength: 32 }),
        distro: Type.String({ maxLength: 128 }),
        release: Type.String({ maxLength: 128 }),
        kernel: Type.String({ maxLength: 128 }),
        arch: Type.String({ maxLength: 32 }),
      },
      { additionalProperties: false },
    ),
    virtualised: Type.Object(
      { is: Type.Boolean(), hypervisor: Type.Optional(Type.String({ maxLength: 64 })) },
      { additionalProperties: false },
    ),
    cgroup: Type.Union([
      Type.Literal('v1'),
      Type.Literal('v2'),
      Type.Literal('hybrid'),
      Type.Literal('none'),
    ]),
    platforms: Type.Array(PlatformAvailability, { maxItems: 64 }),
  },
  { additionalProperties: false, $id: 'HostInventoryV1' },
);

export const HeartbeatV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    type: Type.Literal('heartbeat'),
    hostId: HostId,
    sentAt: Type.Integer({ minimum: 0 }),
    uptimeSeconds: Type.Number({ minimum: 0 }),
    busy: Type.Boolean(),
    runId: Type.Optional(RunId),
  },
  { additionalProperties: false, $id: 'HeartbeatV1' },
);

export type HostInventory = Static<typeof HostInventoryV1>;
export type Heartbeat = Static<typeof HeartbeatV1>;
