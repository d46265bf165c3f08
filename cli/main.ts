import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BerthError, describeError } from '../contracts/errors.ts';
import { checkoutPath } from '../lib/checkout.ts';
import { adviseCommand } from './commands/advise.ts';
import { advisorCommand } from './commands/advisor.ts';
import { agentCommand } from './commands/agent.ts';
import { dlqCommand } from './commands/dlq.ts';
import { ingestCommand } from './commands/ingest.ts';
import { natsConfigCommand } from './commands/nats-config.ts';
import { resultsCommand } from './commands/results.ts';
import { upCommand } from './commands/up.ts';

const { version } = JSON.parse(readFileSync(checkoutPath('package.json'), 'utf8')) as {
  version: string;
};

const program = new Command('berth')
  .description('what isolation costs on your hardware, and where a workload should run')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addCommand(upCommand())
  .addCommand(ingestCommand())
  .addCommand(advisorCommand())
  .addCommand(resultsCommand())
  .addCommand(dlqCommand())
  .addCommand(natsConfigCommand())
  .addCommand(agentCommand())
  .addCommand(adviseCommand());

const exitOverrideAll = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(exitOverrideAll);
};
exitOverrideAll(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    const code = error instanceof BerthError ? ` [${error.code}]` : '';
    process.stderr.write(`berth: ${describeError(error)}${code}\n`);
    process.exitCode = error instanceof BerthError && error.code === 'BERTH_ERR_CONFIG' ? 2 : 1;
  }
}
