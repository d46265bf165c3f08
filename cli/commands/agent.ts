import { Command, Option } from 'commander';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import {
  agentDir,
  printImageStep,
  runAgentSuite,
  selectDrivers,
} from '../../agents/host-agent/run.ts';
import { buildGuestImage } from '../../agents/host-agent/vm/guest-image.ts';
import { runAgentDaemon } from '../../agents/host-agent/daemon.ts';
import { loadHostId } from '../../agents/host-agent/host-id.ts';
import { collectInventory, platformAvailability } from '../../agents/host-agent/inventory.ts';
import { summarise } from '../../agents/host-agent/summary.ts';
import type { SuiteName } from '../../agents/host-agent/suite.ts';
import { createLogger } from '../../lib/logger.ts';
import { printTable } from '../output.ts';
import { installCommand, uninstallCommand } from './agent-service.ts';
import { settingsOf, withSettings } from '../options.ts';

const RUN_SETTINGS = [
  'dataDir',
  'natsUrl',
  'hostId',
  'libvirtUri',
  'containersPerVm',
  'logLevel',
] as const;
/** What the long-running agent reads: `berth agent start`, and the service `install` writes. */
const START_SETTINGS = [...RUN_SETTINGS, 'jobPlatforms'] as const;
/** What the commands that only look at the platforms read. */
const PLATFORM_SETTINGS = ['dataDir', 'libvirtUri', 'containersPerVm'] as const;

function runCommand(): Command {
  const command = new Command('run')
    .description(
      'measure the workloads on every platform of this host and publish the results (journaled until acknowledged)',
    )
    .addOption(
      new Option('--suite <name>', 'quick or full').choices(['quick', 'full']).default('quick'),
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
    const stop = new AbortController();
    const onSignal = (): void => {
      stop.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const report = await runAgentSuite(
        config,
        {
          suite: options.suite,
          platforms: options.platforms.split(',').filter((name) => name !== ''),
          flushTimeoutMs,
        },
        createLogger('agent', config.logLevel),
        stop.signal,
      );
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `host ${report.hostId}, run ${report.runId}: ${report.batches.length} results\n`,
      );
      printTable(summarise(report.batches), false);
      for (const { platform, runtime, reason } of report.skipped) {
        process.stdout.write(`skipped ${platform}:${runtime}: ${reason}\n`);
      }
      for (const { platform, workload, message } of report.failed) {
        process.stdout.write(`failed ${platform}/${workload}: ${message}\n`);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

function platformsCommand(): Command {
  const command = new Command('platforms')
    .description('which platforms this host can measure, and why not where it cannot')
    .option('--json', 'print JSON instead of a table');
  return withSettings(command, PLATFORM_SETTINGS).action(async () => {
    const config = settingsOf(command, PLATFORM_SETTINGS);
    const drivers = await selectDrivers(config, []);
    const rows = (await platformAvailability(drivers)).map((row) => ({
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
    const bar = process.stderr.isTTY
      ? new cliProgress.SingleBar(
          { format: ' {bar} {value}/{total} {what}', stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
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
    const hostId = await loadHostId(join(agentDir(config.dataDir), 'host-id'));
    const inventory = await collectInventory(hostId, await selectDrivers(config, []));
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
    .addCommand(platformsCommand())
    .addCommand(inventoryCommand())
    .addCommand(
      new Command('image')
        .description('the guest image of the VM platforms')
        .addCommand(imageBuildCommand()),
    );
}
