import {
  checkQuestion,
  type AdviceQuestion,
  type QuestionProblem,
} from '../../contracts/advice.ts';
import type { Fleet } from './fleet.ts';

/** The hosts the fleet knows, which is all a question is checked against. */
export type KnownHosts = Pick<Fleet, 'hosts'>;

/** The first host the question names that the fleet does not know, as a problem. */
export function unknownHostProblem(
  question: AdviceQuestion,
  fleet: KnownHosts,
): QuestionProblem | undefined {
  const known = new Set(fleet.hosts().map((host) => host.hostId));
  const index = (question.hosts ?? []).findIndex((hostId) => !known.has(hostId));
  if (index < 0) return undefined;
  return {
    field: `hosts[${index}]`,
    message: `is not a host the advisor knows: ${JSON.stringify(question.hosts?.[index])} (see GET /v1/hosts)`,
  };
}

/** A question as the API takes it: it fits the schema, and every host it names is known. */
export function checkAskedQuestion(
  value: unknown,
  fleet: KnownHosts,
): { ok: true; question: AdviceQuestion } | { ok: false; problem: QuestionProblem } {
  const checked = checkQuestion(value);
  if (!checked.ok) return checked;
  const problem = unknownHostProblem(checked.question, fleet);
  return problem === undefined ? checked : { ok: false, problem };
}
