import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Advice } from '../../contracts/advice.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import type { EngineInput } from '../../services/advisor/engine/types.ts';
import { openstackExport } from '../../services/advisor/openstack.ts';
import {
  engineInput,
  hostInfo,
  kvmHostEvidence,
  MIB,
  question,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

interface Exported {
  advice: { id: string; workload: string; placement: string; runtime: string; score: number };
  flavor?: {
    name: string;
    ram?: number;
    vcpus: number;
    extra_specs: Record<string, string>;
  };
  aggregate: {
    name: string;
    metadata: Record<string, string>;
    hosts: { hostId: string; fits: number; enough: boolean }[];
  };
  commands: string[];
  notes: string[];
}

/** The engine's answer as the advisor sends it. */
function adviceFor(input: EngineInput): Advice {
  const answer = advise(input);
  return {
    schemaVersion: 1,
    id: 'adv-test-1',
    answeredAt: input.now,
    question: input.question,
    options: answer.options,
    ruledOut: answer.ruledOut,
    confidence: answer.confidence,
    whatWouldChange: answer.whatWouldChange,
    hosts: answer.hosts,
  };
}

const exported = (advice: Advice): Exported => JSON.parse(openstackExport(advice)) as Exported;

/**
 * What a POSIX shell makes of the command lines: the arguments each `openstack` call gets, and
 * the files left in the folder they ran in (none, unless a quote let something else run).
 */
function shellRun(commands: readonly string[]): { calls: string[][]; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-openstack-'));
  try {
    const script = [`openstack() { printf '%s\\037' "$@"; echo; }`, ...commands].join('\n');
    const output = execFileSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8' });
    return {
      calls: output
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split('\x1f').slice(0, -1)),
      files: readdirSync(dir),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Untrusted, long-lived and few, on a KVM host: a VM first, with measured figures. */
const vmInput = (overrides: Partial<EngineInput> = {}): EngineInput =>
  engineInput({
    question: question({
      trust: 'untrusted',
      lifetimeSeconds: 30 * 86_400,
      instances: 4,
      memoryMiB: 512,
    }),
    evidence: kvmHostEvidence(),
    hosts: [
      hostInfo('host-kvm'),
      hostInfo('host-big', { memoryBytes: 64 * 1024 * MIB }),
      hostInfo('host-bare', {
        platforms: [{ platform: 'process', runtime: 'node', available: true }],
      }),
    ],
    ...overrides,
  });

describe('OpenStack export', () => {
  it('sizes a flavor for a VM as its own memory plus the measured overhead, tied to an aggregate of the hosts that fit', () => {
    const advice = adviceFor(vmInput());
    expect(advice.options[0]).toMatchObject({ placement: 'vm', runtime: 'qemu-microvm' });
    // An answer from elsewhere need not list its hosts most first.
    const document = exported({ ...advice, hosts: [...advice.hosts].reverse() });

    expect(document.advice).toEqual({
      id: 'adv-test-1',
      workload: 'ci-job',
      placement: 'vm',
      runtime: 'qemu-microvm',
      score: advice.options[0]?.score,
    });
    // 512 MiB of its own + 290 MiB measured overhead of the VM on the KVM host.
    expect(document.flavor).toEqual({
      name: 'berth-ci-job',
      ram: 802,
      vcpus: 1,
      extra_specs: {
        'aggregate_instance_extra_specs:berth_placement': 'vm',
        'aggregate_instance_extra_specs:berth_runtime': 'qemu-microvm',
      },
    });
    const fitsOf = (hostId: string): number | undefined =>
      advice.hosts.find((host) => host.hostId === hostId)?.fits;
    expect(document.aggregate).toEqual({
      name: 'berth-vm-qemu-microvm',
      metadata: { berth_placement: 'vm', berth_runtime: 'qemu-microvm' },
      // host-bare offers no VM: it holds none, and stays out.
      hosts: [
        { hostId: 'host-big', fits: fitsOf('host-big'), enough: true },
        { hostId: 'host-kvm', fits: fitsOf('host-kvm'), enough: true },
      ],
    });
    expect(fitsOf('host-big')).toBeGreaterThan(fitsOf('host-kvm') ?? Infinity);
    expect(fitsOf('host-bare')).toBe(0);

    expect(shellRun(document.commands).calls).toEqual([
      [
        'aggregate',
        'create',
        '--property',
        'berth_placement=vm',
        '--property',
        'berth_runtime=qemu-microvm',
        'berth-vm-qemu-microvm',
      ],
      ['aggregate', 'add', 'host', 'berth-vm-qemu-microvm', 'host-big'],
      ['aggregate', 'add', 'host', 'berth-vm-qemu-microvm', 'host-kvm'],
      ['flavor', 'create', '--ram', '802', '--vcpus', '1', 'berth-ci-job'],
      [
        'flavor',
        'set',
        '--property',
        'aggregate_instance_extra_specs:berth_placement=vm',
        '--property',
        'aggregate_instance_extra_specs:berth_runtime=qemu-microvm',
        'berth-ci-job',
      ],
    ]);
    expect(document.notes).toContainEqual(
      expect.stringMatching(
        /ram, 802 MiB .* 512 MiB of the workload's own memory \(the question's memoryMiB\) .* 290 MiB \(measured on host-kvm\)/,
      ),
    );
    expect(document.notes.join('\n')).not.toMatch(/TCG|Published|no VM layer/);
  });

  it('writes no flavor for a bare container, only the aggregate, and says why', () => {
    const advice = adviceFor(engineInput());
    expect(advice.options[0]).toMatchObject({ placement: 'container', runtime: 'runc' });
    const document = exported(advice);

    expect(document).not.toHaveProperty('flavor');
    expect(document.aggregate.name).toBe('berth-container-runc');
    expect(document.aggregate.hosts.map((host) => host.hostId)).toEqual(['host-a']);
    expect(shellRun(document.commands).calls.map((call) => call.slice(0, 2))).toEqual([
      ['aggregate', 'create'],
      ['aggregate', 'add'],
    ]);
    expect(document.notes).toContainEqual(
      expect.stringMatching(
        /^A container \(runc\) has no VM layer, and Nova places VMs, not containers/,
      ),
    );
  });

  it('sizes the VM around a container in a VM, from the bare process peak, and warns of TCG', () => {
    const advice = adviceFor(engineInput({ question: question({ trust: 'untrusted' }) }));
    expect(advice.options[0]).toMatchObject({
      placement: 'container-in-vm',
      runtime: 'qemu-microvm',
    });
    const document = exported(advice);

    // 10 MiB peak of the bare process + 335 MiB overhead, both measured on host-a under TCG.
    expect(document.flavor?.ram).toBe(345);
    expect(document.flavor?.extra_specs).toEqual({
      'aggregate_instance_extra_specs:berth_placement': 'container-in-vm',
      'aggregate_instance_extra_specs:berth_runtime': 'qemu-microvm',
    });
    expect(document.aggregate.name).toBe('berth-container-in-vm-qemu-microvm');
    const notes = document.notes.join('\n');
    expect(notes).toContain("10 MiB of the workload's own memory (the bare process's peak");
    expect(notes).toContain('runs the workload as a container inside a VM');
    expect(notes).toMatch(/measured under TCG emulation .* on host-a/);
  });

  it('counts every host a figure was measured on, when its evidence names only the first', () => {
    const many = Array.from({ length: 12 }, (_, index) => `host-${index + 10}`);
    const advice = adviceFor(
      engineInput({
        evidence: many.flatMap((hostId) => thisHostEvidence(hostId)),
        hosts: many.map((hostId) => hostInfo(hostId)),
        question: question({ trust: 'untrusted' }),
      }),
    );
    const notes = exported(advice).notes.join('\n');
    expect(notes).toMatch(
      /measured under TCG emulation .* on host-10, host-11, host-12, host-13, host-14 and 7 more:/,
    );
  });

  it('says when the overhead is a published figure rather than a measurement', () => {
    const advice = adviceFor(
      vmInput({ evidence: kvmHostEvidence().filter((row) => row.platform !== 'vm') }),
    );
    const option = advice.options[0];
    expect(option?.placement).toBe('vm');
    const overhead = option?.evidence.find((evidence) => evidence.metric === 'memory-overhead');
    expect(overhead?.source).toBe('published');
    const document = exported(advice);

    expect(document.flavor?.ram).toBe(Math.ceil(512 + (overhead?.value ?? NaN)));
    expect(document.notes).toContainEqual(expect.stringMatching(/overhead .*\(published: /));
    expect(document.notes).toContainEqual(
      expect.stringMatching(
        /^Published figures, not measurements on your hosts, .*memory-overhead/,
      ),
    );
  });

  it('leaves the ram out, and creates no flavor, when the own memory is not known', () => {
    const input = vmInput({
      question: question({ trust: 'untrusted', lifetimeSeconds: 30 * 86_400, instances: 4 }),
      evidence: kvmHostEvidence().filter((row) => row.platform !== 'process'),
    });
    const advice = adviceFor(input);
    expect(advice.options[0]?.placement).toBe('vm');
    const document = exported(advice);

    expect(document.flavor).toBeDefined();
    expect(document.flavor).not.toHaveProperty('ram');
    expect(document.commands.join('\n')).not.toContain('flavor');
    expect(document.notes).toContainEqual(
      expect.stringMatching(/^The workload's own memory is not known/),
    );
    // Without its own memory no host's room is known either.
    expect(document.aggregate.hosts).toEqual([]);
    expect(document.notes).toContainEqual(
      expect.stringMatching(/^No host in the advice has room for an instance on a VM/),
    );
  });

  it('quotes every value in the commands, whatever the names hold', () => {
    const named = adviceFor(
      vmInput({ question: { ...vmInput().question, workload: "x'; rm -rf / #" } }),
    );
    const document = exported(named);
    expect(document.advice.workload).toBe("x'; rm -rf / #");
    expect(document.flavor?.name).toBe('berth-x-rm-rf');

    // A runtime name from an agent's inventory is free text too.
    const runtime = "q'; touch pwned; echo '";
    const hostile: Advice = {
      ...named,
      question: { ...named.question, workload: 'y"; touch pwned-too; `touch pwned-three` #' },
      options: named.options.map((option, index) =>
        index === 0 ? { ...option, runtime } : option,
      ),
      hosts: named.hosts.map((host) => ({ ...host, runtime })),
    };
    const run = shellRun(exported(hostile).commands);
    expect(run.files).toEqual([]);
    expect(run.calls).toEqual([
      [
        'aggregate',
        'create',
        '--property',
        'berth_placement=vm',
        '--property',
        `berth_runtime=${runtime}`,
        `berth-vm-${runtime}`,
      ],
      ['aggregate', 'add', 'host', `berth-vm-${runtime}`, 'host-big'],
      ['aggregate', 'add', 'host', `berth-vm-${runtime}`, 'host-kvm'],
      [
        'flavor',
        'create',
        '--ram',
        '802',
        '--vcpus',
        '1',
        'berth-y-touch-pwned-too-touch-pwned-three',
      ],
      [
        'flavor',
        'set',
        '--property',
        'aggregate_instance_extra_specs:berth_placement=vm',
        '--property',
        `aggregate_instance_extra_specs:berth_runtime=${runtime}`,
        'berth-y-touch-pwned-too-touch-pwned-three',
      ],
    ]);
  });

  it('refuses an answer with every option ruled out, naming the rules', () => {
    const advice = adviceFor(
      engineInput({
        question: question({
          trust: 'untrusted',
          os: { family: 'linux', fullOs: true },
          startupBudgetMs: 100,
        }),
      }),
    );
    expect(advice.options).toEqual([]);
    expect(() => openstackExport(advice)).toThrow(
      /advice adv-test-1 has no placement to export to OpenStack; every option was ruled out: .*vm \(qemu-microvm\) by startup-budget/,
    );
    expect(() => openstackExport(advice)).toThrow(/container \(runc\) by .*untrusted/);
    expect(() => openstackExport(advice)).toThrow(/container-in-vm \(qemu-microvm\) by full-os/);
  });
});
