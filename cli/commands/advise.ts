import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { BerthError } from '../../contracts/errors.ts';
import { settingsOf, STORE_SETTINGS, withSettings } from '../options.ts';
import { ADVISOR_SETTINGS } from './advisor.ts';

/** The question from a file, or from standard input when the file is "-". */
async function readQuestion(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await new Response(process.stdin).text() : await readFile(file, 'utf8');
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_QUESTION',
      `cannot read the question from ${file}: ${(error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BerthError('BERTH_ERR_QUESTION', `${file} is not JSON`);
  }
}

/** `berth advise export runtimeclass`: a RuntimeClass with the measured pod overhead. */
function exportCommand(): Command {
  const runtimeClass = new Command('runtimeclass')
    .description(
      'print a Kubernetes RuntimeClass whose pod overhead is the memory overhead Berth measured for a container or VM runtime',
    )
    .requiredOption(
      '--runtime <platform:runtime>',
      'what was measured, e.g. container:runc or vm:libvirt',
    )
    .option('--handler <name>', 'the CRI handler name on the nodes (default: the runtime)')
    .option('--name <name>', 'the RuntimeClass name (default: berth-<runtime>)')
    .option('--hosts <list>', 'only results of these hosts, comma-separated');
  withSettings(runtimeClass, STORE_SETTINGS).action(async () => {
    const options = runtimeClass.opts<{
      runtime: string;
      handler?: string;
      name?: string;
      hosts?: string;
    }>();
    const [platform, runtime, ...rest] = options.runtime.split(':');
    if (
      platform === undefined ||
      runtime === undefined ||
      platform === '' ||
      runtime === '' ||
      rest.length > 0
    ) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `--runtime must be platform:runtime, got "${options.runtime}"`,
      );
    }
    const hostIds = options.hosts?.split(',').filter((host) => host !== '');
    const { openStore } = await import('../../lib/storage/open-store.ts');
    const { loadSeriesSummaries } = await import('../../lib/storage/results.ts');
    const { runtimeClassOf } = await import('../../services/advisor/runtime-class.ts');
    const store = await openStore(settingsOf(runtimeClass, STORE_SETTINGS));
    try {
      const evidence = await loadSeriesSummaries(store, hostIds === undefined ? {} : { hostIds });
      const exported = runtimeClassOf(
        {
          platform,
          runtime,
          handler: options.handler ?? runtime,
          ...(options.name === undefined ? {} : { name: options.name }),
        },
        evidence,
      );
      process.stdout.write(exported.yaml);
    } finally {
      await store.close();
    }
  });
  return new Command('export')
    .description('write what Berth measured in the formats other tools read')
    .addCommand(runtimeClass);
}

/** The advisor's settings, and the client certificate `berth advise` presents to it. */
const ADVISE_SETTINGS = [...ADVISOR_SETTINGS, 'advisorClientCert', 'advisorClientKey'] as const;

/** How `berth advise` prints its answer. */
const FORMATS = ['text', 'json', 'openstack'] as const;
type Format = (typeof FORMATS)[number];

const isFormat = (value: string): value is Format => (FORMATS as readonly string[]).includes(value);

/** The format asked for: `--format`, or `--json` (its shorthand for json), else text. */
function formatOf(options: { json?: boolean; format?: string }): Format {
  const format = options.format ?? (options.json === true ? 'json' : 'text');
  if (!isFormat(format)) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `--format must be one of ${FORMATS.join(', ')}, got "${format}"`,
    );
  }
  if (options.json === true && format !== 'json') {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `--json is short for --format json, and cannot go with --format ${format}`,
    );
  }
  return format;
}

export function adviseCommand(): Command {
  const command = new Command('advise')
    .description(
      'recommend a placement for a workload described in a JSON question file ("-" for standard input); asks the running advisor, or answers from the store',
    )
    .argument('<question.json>', 'the question (see docs/advisor-api.md)')
    .option(
      '--format <format>',
      'how to print the answer: text (a table), json (the answer document) or openstack (Nova flavor extra specs and a host aggregate for the recommended placement) [default text]',
    )
    .option('--json', 'print the answer document as JSON (short for --format json)')
    .addCommand(exportCommand());
  return withSettings(command, ADVISE_SETTINGS).action(async (file: string) => {
    const format = formatOf(command.opts<{ json?: boolean; format?: string }>());
    const config = settingsOf(command, ADVISE_SETTINGS);
    const { checkQuestion } = await import('../../contracts/advice.ts');
    const checked = checkQuestion(await readQuestion(file));
    if (!checked.ok) {
      throw new BerthError(
        'BERTH_ERR_QUESTION',
        `${checked.problem.field} ${checked.problem.message}`,
      );
    }
    const { createLogger } = await import('../../lib/logger.ts');
    const logger = createLogger('berth-advise', config.logLevel);
    const { adviseOnce } = await import('../../services/advisor/advise-once.ts');
    const outcome = await adviseOnce(config, checked.question, logger);
    if (format === 'text') {
      const { printAdvice } = await import('../advice-text.ts');
      printAdvice(outcome.advice, outcome.via, outcome.notes);
      return;
    }
    for (const note of outcome.notes) process.stderr.write(`note: ${note}\n`);
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify(outcome.advice, null, 2)}\n`);
      return;
    }
    const { openstackExport } = await import('../../services/advisor/openstack.ts');
    process.stdout.write(openstackExport(outcome.advice));
  });
}
