import { defineConfig } from 'vitest/config';

/**
 * Two groups. Most tests run two files at a time. Tests whose figures depend on a quiet host
 * (test/quiet: the calibration canary, rounds judged disturbed by foreign load) run after
 * them, one file at a time, so no other test is the noise they measure.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'quiet',
          include: ['test/quiet/**/*.test.ts'],
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
