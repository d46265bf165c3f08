import { describe, expect, it } from 'vitest';
import { isCalibrated } from '../../agents/host-agent/calibration.ts';

describe('isCalibrated', () => {
  it.each([
    { ci95: [0.48, 0.5], ok: true, why: 'the interval holds the expected ratio' },
    { ci95: [0.51, 0.53], ok: true, why: 'it lies above, but reaches within the margin' },
    { ci95: [0.45, 0.485], ok: true, why: 'it lies below, but reaches within the margin' },
    { ci95: [0.3, 0.7], ok: true, why: 'a wide interval covers it' },
    { ci95: [0.5151, 0.6], ok: false, why: 'it misses above by more than the margin' },
    { ci95: [0.4, 0.4849], ok: false, why: 'it misses below by more than the margin' },
    { ci95: [0.96, 1.04], ok: false, why: 'no difference seen at all' },
  ] as const)('$why: $ci95 → $ok', ({ ci95, ok }) => {
    expect(isCalibrated(ci95, 0.5, 0.03)).toBe(ok);
  });

  it('takes the margin relative to the expected ratio', () => {
    expect(isCalibrated([0.257, 0.3], 0.25, 0.03)).toBe(true);
    expect(isCalibrated([0.258, 0.3], 0.25, 0.03)).toBe(false);
  });
});
