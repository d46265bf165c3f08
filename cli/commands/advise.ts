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

/** A whole number of 1 or more from an option, or a parameter error naming it. */
function countOf(option: string, text: string): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(count) || count < 1) {
    throw new BerthError(
      'BERTH_ERR_PARAMETER',
      `${option} must be a whole number of 1 or more, got "${text}"`,
    );
  }
  return count;
}

/** The question with `--neighbours` in place of its own, when given (a non-object as it is). */
function withNeighbours(question: unknown, neighbours: string | undefined): unknown {
  if (neighbours === undefined) return question;
  if (typeof question !== 'object' || question === null || Array.isArray(question)) {
    return question;
  }
  return { ...question, neighbours };
}

/** `berth advise export runtimeclass`: a RuntimeClass with the measured pod overhead. */
function exportCommand(): Command {
  const runtimeClass = new Command('runtimeclass')
    .description(
      "print a Kubernetes RuntimeClass whose pod overhead is what Berth measured for a container or VM runtime: memory per instance at load at the density asked for (net of the bare process's at the same step, plus a p95 margin; the idle memory overhead where density at load was not measured) and the idle CPU an instance costs (net of the bare process's); its comments name the results behind each figure",
    )
    .requiredOption(
      '--runtime <platform:runtime>',
      'what was measured, e.g. container:runc or vm:libvirt',
    )
    .option('--handler <name>', 'the CRI handler name on the nodes (default: the runtime)')
    .option('--name <name>', 'the RuntimeClass name (default: berth-<runtime>)')
    .option('--hosts <list>', 'only results of these hosts, comma-separated')
    .option(
      '--instances <n>',
      'how many pods run at once on a node: the memory at load of the smallest step measured at or above it, else of the largest (default: the largest step)',
    )
    .option(
      '--json',
      'print the RuntimeClass and what each figure rests on (results, hosts, step) as JSON instead of YAML',
    );
  withSettings(runtimeClass, STORE_SETTINGS).action(async () => {
    const options = runtimeClass.opts<{
      runtime: string;
      handler?: string;
      name?: string;
      hosts?: string;
      instances?: string;
      json?: boolean;
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
    const instances =
      options.instances === undefined ? undefined : countOf('--instances', options.instances);
    const hostIds = options.hosts?.split(',').filter((host) => host !== '');
    const { openStore } = await import('../../lib/storage/open-store.ts');
    const { loadSeriesSummaries } = await import('../../lib/storage/results.ts');
    const { runtimeClassOf } = await import('../../services/advisor/runtime-class.ts');
    const store = await openStore(settingsOf(runtimeClass, STORE_SETTINGS));
    try {
      const evidence = await loadSeriesSummaries(store, hostIds === undefined ? {} : { hostIds });
      const { yaml, ...exported } = runtimeClassOf(
        {
          platform,
          runtime,
          handler: options.handler ?? runtime,
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(instances === undefined ? {} : { instances }),
        },
        evidence,
      );
      process.stdout.write(options.json === true ? `${JSON.stringify(exported, null, 2)}\n` : yaml);
    } finally {
      await store.close();
    }
  });
  return new Command('export')
    .description('write what Berth measured in the formats other tools read')
    .addCommand(runtimeClass);
}

type AdviseSetting = Exclude<(typeof ADVISOR_SETTINGS)[number], 'engineThreads'>;

/**
 * The advisor's settings but its engine threads (`berth advise` answers a question once, on
 * its own thread, when it computes the answer itself), and the client certificate it presents.
 */
const ADVISE_SETTINGS = [
  ...ADVISOR_SETTINGS.filter((name): name is AdviseSetting => name !== 'engineThreads'),
  'advisorClientCert',
  'advisorClientKey',
] as const;

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
    .option(
      '--neighbours <own|shared>',
      "who else runs on the workload's hosts, in place of the question's neighbours: own (only the team's own work) or shared (other tenants' work beside it, so the slowdown measured beside noisy neighbours counts)",
    )
    .addCommand(exportCommand());
  return withSettings(command, ADVISE_SETTINGS).action(async (file: string) => {
    const options = command.opts<{ json?: boolean; format?: string; neighbours?: string }>();
    const format = formatOf(options);
    const config = settingsOf(command, ADVISE_SETTINGS);
    const { checkQuestion, NEIGHBOURS } = await import('../../contracts/advice.ts');
    const { neighbours } = options;
    if (neighbours !== undefined && !(NEIGHBOURS as readonly string[]).includes(neighbours)) {
      throw new BerthError(
        'BERTH_ERR_PARAMETER',
        `--neighbours must be one of ${NEIGHBOURS.join(', ')}, got "${neighbours}"`,
      );
    }
    const checked = checkQuestion(withNeighbours(await readQuestion(file), neighbours));
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
