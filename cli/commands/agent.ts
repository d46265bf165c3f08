import { Command, Option } from 'commander';
import { join } from 'node:path';
import type { SingleBar } from 'cli-progress';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import type { Calibration } from '../../agents/host-agent/calibration.ts';
import { MIN_CPU_QUOTA } from '../../agents/host-agent/cgroups.ts';
import type { RunCalibration } from '../../agents/host-agent/suite-run.ts';
import { SUITES, type SuiteName } from '../../agents/host-agent/suite-catalogue.ts';
import { BerthError } from '../../contracts/errors.ts';
import { settingLabel } from '../../lib/config.ts';
import { printTable } from '../output.ts';
import { installCommand, uninstallCommand } from './agent-service.ts';
import { settingsOf, withSettings } from '../options.ts';

const RUN_SETTINGS = [
  'dataDir',
  'natsUrl',
  'hostId',
  'libvirtUri',
  'containersPerVm',
  'dockerEngine',
  'libvirtDaemon',
  'rounds',
  'equivalenceMargin',
  'maxSteal',
  'maxForeignLoad',
  'loadWorkload',
  'sloShare',
  'loadMemoryBudget',
  'loadTimeBudget',
  'loadCap',
  'antagonists',
  'logLevel',
] as const;
/** What the long-running agent reads: `berth agent start`, and the service `install` writes. */
const START_SETTINGS = [...RUN_SETTINGS, 'jobPlatforms'] as const;
/** What the commands that only look at the platforms read. */
const PLATFORM_SETTINGS = [
  'dataDir',
  'libvirtUri',
  'containersPerVm',
  'dockerEngine',
  'libvirtDaemon',
] as const;
/** What the calibration canary reads: the platforms, its rounds and the equivalence margin. */
const CALIBRATE_SETTINGS = [...PLATFORM_SETTINGS, 'rounds', 'equivalenceMargin'] as const;
/** Rounds of `berth agent calibrate` when --rounds is not given. */
const CALIBRATION_ROUNDS = 5;

/** A progress line on standard error when it is a terminal; undefined otherwise. */
async function terminalBar(format: string): Promise<SingleBar | undefined> {
  if (!process.stderr.isTTY) return undefined;
  const { default: cliProgress } = await import('cli-progress');
  return new cliProgress.SingleBar(
    { format, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
}

/** Runs work with a signal that SIGINT or SIGTERM aborts, so it can stop and clean up. */
async function untilStopped<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = (): void => {
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function runCommand(): Command {
  const command = new Command('run')
    .description(
      'measure the workloads on every platform of this host and publish the results (journaled until acknowledged; kept in the outbox for the next run or start when NATS does not answer)',
    )
    .addOption(
      new Option(
        '--suite <name>',
        'quick (3-6 rounds, first sample within the margin) or full (8-16 rounds, samples of 2 s or more)',
      )
        .choices(['quick', 'full'])
        .default('quick'),
    )
    .option(
      '--platforms <list>',
      'comma-separated platforms (vm: every VM backend) or platform:runtime (vm:libvirt); default: all',
      '',
    )
    .option(
      '--flush-timeout-ms <ms>',
      'how long to wait for every result to be acknowledged',
      '60000',
    )
    .option('--json', 'print the results as JSON instead of a table');
  return withSettings(command, RUN_SETTINGS).action(async () => {
    const options = command.opts<{
      suite: SuiteName;
      platforms: string;
      flushTimeoutMs: string;
      json?: boolean;
    }>();
    const config = settingsOf(command, RUN_SETTINGS);
    const flushTimeoutMs = Number(options.flushTimeoutMs);
    if (!Number.isInteger(flushTimeoutMs) || flushTimeoutMs < 0) {
      throw new Error(
        `--flush-timeout-ms must be a whole number of ms, got "${options.flushTimeoutMs}"`,
      );
    }
    const { createLogger } = await import('../../lib/logger.ts');
    const { runAgentSuite } = await import('../../agents/host-agent/agent-run.ts');
    const { roundsText, summarise } = await import('../../agents/host-agent/summary.ts');
    const report = await untilStopped((signal) =>
      runAgentSuite(
        config,
        {
          suite: options.suite,
          platforms: options.platforms.split(',').filter((name) => name !== ''),
          flushTimeoutMs,
          ...(config.rounds === undefined ? {} : { rounds: config.rounds }),
        },
        createLogger('agent', config.logLevel),
        signal,
      ),
    );
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `host ${report.hostId}, run ${report.runId}: ${report.batches.length} results${report.natsUnreachable ? ', not sent: NATS did not answer' : ''}\n`,
    );
    printTable(summarise(report.batches), false);
    process.stdout.write(
      `${roundsText(report.rounds)}; ${runCalibrationLine(report.calibration, config.equivalenceMargin)}\n`,
    );
    if (report.fingerprintChanged) {
      process.stdout.write(
        "the host's state changed during the run (its fingerprint differs at the end): the results say so\n",
      );
    }
    for (const { platform, runtime, reason } of report.skipped) {
      process.stdout.write(`skipped ${platform}:${runtime}: ${reason}\n`);
    }
    for (const { platform, workload, message } of report.failed) {
      process.stdout.write(`failed ${platform}/${workload}: ${message}\n`);
    }
  });
}

/** The --quota of berth agent calibrate: a share of one CPU a cgroup quota can give. */
function quotaOption(raw: string): number {
  const quota = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!(quota >= MIN_CPU_QUOTA && quota <= 1)) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `--quota must be a share of one CPU from ${MIN_CPU_QUOTA} to 1, got "${raw}"`,
    );
  }
  return quota;
}

/** The canary's finding in one line: the ratio, its interval, and ok or why it is not. */
function calibrationLine(calibration: Calibration, margin: number): string {
  const { expected, ratio, ci95 } = calibration;
  const [low, high] = ci95;
  const measured = `${ratio.toFixed(2)}× [${low.toFixed(2)}–${high.toFixed(2)}] of bare at a ${Math.round(expected * 100)}% CPU quota — expected ${expected.toFixed(2)}`;
  if (calibration.ok) return `calibration: ${measured}: ok`;
  const side = low > expected ? 'above' : 'below';
  return `uncalibrated: ${measured}, and the interval lies ${side} it by more than the ${Number((margin * 100).toFixed(1))}% margin: a known difference is not measured as it is on this host now (other load on it, or a measurement that misses the quota)`;
}

/** A run's calibration in one line: the canary's finding, or why the run has none. */
function runCalibrationLine(calibration: RunCalibration, margin: number): string {
  return 'why' in calibration
    ? `uncalibrated: ${calibration.why}`
    : calibrationLine(calibration, margin);
}

function calibrateCommand(): Command {
  const command = new Command('calibrate')
    .description(
      'the calibration canary: cpu-sha256 on the bare process and under a CPU quota, in interleaved rounds; a quota of q should measure q× bare (exit 0 either way)',
    )
    .option(
      '--quota <share>',
      `share of one CPU the quota trials get, from ${MIN_CPU_QUOTA} to 1`,
      '0.5',
    )
    .option('--json', 'print the finding as JSON');
  return withSettings(command, CALIBRATE_SETTINGS).action(async () => {
    const options = command.opts<{ quota: string; json?: boolean }>();
    const config = settingsOf(command, CALIBRATE_SETTINGS);
    const quota = quotaOption(options.quota);
    const rounds = config.rounds ?? CALIBRATION_ROUNDS;
    if (rounds < 2) {
      throw new BerthError(
        'BERTH_ERR_CONFIG',
        `${settingLabel('rounds')} must be from 2 to 100 for berth agent calibrate (one round has no interval), got ${rounds}`,
      );
    }
    const { selectDrivers } = await import('../../agents/host-agent/agent-drivers.ts');
    const { calibrate } = await import('../../agents/host-agent/calibration.ts');
    const drivers = await selectDrivers(config, ['process']);
    const driver = drivers[0];
    if (driver === undefined) throw new Error('no process platform driver is registered');
    const bar = await terminalBar(' {bar} {value}/{total} {what}');
    bar?.start(rounds * 2, 0, { what: 'starting' });
    try {
      const calibration = await untilStopped((signal) =>
        calibrate({
          driver,
          rounds,
          quota,
          margin: config.equivalenceMargin,
          timeCapMs: SUITES.quick.timeCapMs,
          signal,
          onEvent: ({ round, arm, throughput, unit }) => {
            const what = `round ${round}/${rounds}: ${arm} ${Math.round(throughput)} ${unit}`;
            if (bar === undefined) process.stderr.write(`calibration ${what}\n`);
            else bar.increment({ what });
          },
        }),
      );
      bar?.stop();
      process.stdout.write(
        options.json === true
          ? `${JSON.stringify(calibration, null, 2)}\n`
          : `${calibrationLine(calibration, config.equivalenceMargin)}\n`,
      );
    } finally {
      bar?.stop();
    }
  });
}

function platformsCommand(): Command {
  const command = new Command('platforms')
    .description('which platforms this host can measure, and why not where it cannot')
    .option('--json', 'print JSON instead of a table');
  return withSettings(command, PLATFORM_SETTINGS).action(async () => {
    const config = settingsOf(command, PLATFORM_SETTINGS);
    const { closeDrivers, selectDrivers } =
      await import('../../agents/host-agent/agent-drivers.ts');
    const { platformAvailability } = await import('../../agents/host-agent/inventory.ts');
    const drivers = await selectDrivers(config, []);
    const availability = await platformAvailability(drivers).finally(() => closeDrivers(drivers));
    const rows = availability.map((row) => ({
      platform: row.platform,
      runtime: row.runtime,
      available: row.available,
      version: row.version ?? '',
      accel: row.accel ?? '',
      reason: row.reason ?? '',
    }));
    printTable(rows, command.opts<{ json?: boolean }>().json === true);
  });
}

function imageBuildCommand(): Command {
  const command = new Command('build').description(
    "build (or find cached) the guest image the VM platforms boot: the distribution's kernel and a small initramfs",
  );
  return withSettings(command, ['dataDir']).action(async () => {
    const config = settingsOf(command, ['dataDir']);
    const { printImageStep } = await import('../../agents/host-agent/agent-drivers.ts');
    const { buildGuestImage } = await import('../../agents/host-agent/vm/guest-image.ts');
    const bar = await terminalBar(' {bar} {value}/{total} {what}');
    bar?.start(5, 0, { what: '' });
    try {
      const image = await buildGuestImage(
        join(agentDir(config.dataDir), 'images'),
        (done, total, what) => {
          if (bar === undefined) printImageStep(done, total, what);
          else bar.update(done, { what });
        },
      );
      bar?.stop();
      process.stdout.write(`kernel ${image.kernelVersion}\n  ${image.kernel}\n  ${image.initrd}\n`);
    } finally {
      bar?.stop();
    }
  });
}

function inventoryCommand(): Command {
  const command = new Command('inventory')
    .description(
      'what this host is (CPU, memory, OS, kernel, virtualisation, cgroups) and its platforms',
    )
    .option('--json', 'print JSON instead of a summary');
  return withSettings(command, PLATFORM_SETTINGS).action(async () => {
    const config = settingsOf(command, PLATFORM_SETTINGS);
    const { closeDrivers, selectDrivers } =
      await import('../../agents/host-agent/agent-drivers.ts');
    const { loadHostId } = await import('../../agents/host-agent/host-id.ts');
    const { collectInventory } = await import('../../agents/host-agent/inventory.ts');
    const hostId = await loadHostId(join(agentDir(config.dataDir), 'host-id'));
    const drivers = await selectDrivers(config, []);
    const inventory = await collectInventory(hostId, drivers).finally(() => closeDrivers(drivers));
    if (command.opts<{ json?: boolean }>().json === true) {
      process.stdout.write(`${JSON.stringify(inventory, null, 2)}\n`);
      return;
    }
    const { cpu, os } = inventory;
    process.stdout.write(
      [
        `host      ${inventory.hostId}`,
        `cpu       ${cpu.model}, ${cpu.cores} cores, ${cpu.threads} threads, flags: ${cpu.flags.join(' ') || '-'}`,
        `memory    ${(inventory.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
        `os        ${os.distro} ${os.release}, kernel ${os.kernel} (${os.arch})`,
        `virtual   ${inventory.virtualised.is ? `yes${inventory.virtualised.hypervisor === undefined ? '' : ` (${inventory.virtualised.hypervisor})`}` : 'no'}`,
        `cgroups   ${inventory.cgroup}`,
        '',
      ].join('\n'),
    );
    printTable(
      inventory.platforms.map((row) => ({
        platform: row.platform,
        runtime: row.runtime,
        available: row.available,
        accel: row.accel ?? '',
        reason: row.reason ?? '',
      })),
      false,
    );
  });
}

function startCommand(): Command {
  const command = new Command('start').description(
    'run the agent as a service: inventory and heartbeat on berth.inventory.<host>, suites on request from berth.jobs.<host>',
  );
  return withSettings(command, START_SETTINGS).action(async () => {
    const config = settingsOf(command, START_SETTINGS);
    const { createLogger } = await import('../../lib/logger.ts');
    const { runAgentDaemon } = await import('../../agents/host-agent/daemon.ts');
    await runAgentDaemon(config, createLogger('agent', config.logLevel));
  });
}

export function agentCommand(): Command {
  return new Command('agent')
    .description('the host agent: measure this host')
    .addCommand(runCommand())
    .addCommand(startCommand())
    .addCommand(installCommand(START_SETTINGS))
    .addCommand(uninstallCommand())
    .addCommand(calibrateCommand())
    .addCommand(platformsCommand())
    .addCommand(inventoryCommand())
    .addCommand(
      new Command('image')
        .description('the guest image of the VM platforms')
        .addCommand(imageBuildCommand()),
    );
}
