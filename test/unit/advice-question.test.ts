import { describe, expect, it } from 'vitest';
import { checkQuestion } from '../../contracts/advice.ts';
import { checkClientFrame } from '../../contracts/advisor-frames.ts';

const good = {
  workload: 'ci-job',
  os: { family: 'linux', kernel: '>=5.10' },
  lifetimeSeconds: 180,
  instances: 400,
  trust: 'trusted',
};

function withoutWorkload(): Record<string, unknown> {
  return Object.fromEntries(Object.entries(good).filter(([key]) => key !== 'workload'));
}

describe('advice questions', () => {
  it('accepts a question of the documented shape, with every optional field', () => {
    const full = {
      ...good,
      os: { family: 'linux', kernel: '>=6.8 <7', kernelModules: false, fullOs: false },
      neighbours: 'shared',
      startupBudgetMs: 500,
      memoryMiB: 256,
      sensitivity: ['cpu', 'io'],
      hosts: ['host-a', 'host_b'],
    };
    expect(checkQuestion(full)).toEqual({ ok: true, question: full });
  });

  it.each([
    ['not an object', [], '(the question)', 'must be a JSON object'],
    ['no workload', withoutWorkload(), 'workload', 'is required'],
    ['empty workload', { ...good, workload: '' }, 'workload', 'expected string length'],
    [
      'unknown OS family',
      { ...good, os: { family: 'mac' } },
      'os.family',
      'must be one of linux, windows, freebsd, other',
    ],
    [
      'a kernel that is no range',
      { ...good, os: { family: 'linux', kernel: 'new' } },
      'os.kernel',
      'is not a semver range',
    ],
    [
      'kernelModules as text',
      { ...good, os: { family: 'linux', kernelModules: 'yes' } },
      'os.kernelModules',
      'expected boolean',
    ],
    ['zero lifetime', { ...good, lifetimeSeconds: 0 }, 'lifetimeSeconds', 'greater than 0'],
    ['fractional instances', { ...good, instances: 1.5 }, 'instances', 'expected integer'],
    ['no instances', { ...good, instances: 0 }, 'instances', 'greater or equal to 1'],
    ['another trust', { ...good, trust: 'maybe' }, 'trust', 'must be one of trusted, untrusted'],
    [
      'unknown neighbours',
      { ...good, neighbours: 'noisy' },
      'neighbours',
      'must be one of own, shared',
    ],
    ['negative budget', { ...good, startupBudgetMs: -5 }, 'startupBudgetMs', 'greater than 0'],
    ['memory as text', { ...good, memoryMiB: '256' }, 'memoryMiB', 'expected number'],
    [
      'unknown sensitivity',
      { ...good, sensitivity: ['cpu', 'gpu'] },
      'sensitivity[1]',
      'must be one of',
    ],
    ['repeated sensitivity', { ...good, sensitivity: ['io', 'io'] }, 'sensitivity', 'unique'],
    ['unsafe host id', { ...good, hosts: ['ok', 'a.b'] }, 'hosts[1]', 'expected string to match'],
    ['an extra field', { ...good, colour: 'red' }, 'colour', 'is not a field of the question'],
    [
      'an extra os field',
      { ...good, os: { family: 'linux', arch: 'arm' } },
      'os.arch',
      'is not a field',
    ],
  ])('rejects %s, naming the field', (_, question, field, message) => {
    const checked = checkQuestion(question);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.problem.field).toBe(field);
    expect(checked.problem.message).toContain(message);
  });

  it('takes neighbours in a WebSocket ask frame, and names question.neighbours when it is wrong', () => {
    const shared = { ...good, neighbours: 'shared' };
    expect(checkClientFrame({ type: 'ask', id: 'q1', question: shared })).toEqual({
      ok: true,
      frame: { type: 'ask', id: 'q1', question: shared },
    });
    expect(
      checkClientFrame({ type: 'watch', question: { ...good, neighbours: 'everyone' } }),
    ).toEqual({
      ok: false,
      problem: {
        code: 'BERTH_ERR_QUESTION',
        field: 'question.neighbours',
        message: 'must be one of own, shared',
      },
    });
  });
});
