import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AdviceQuestionV1 } from '../../contracts/advice.ts';

export interface AdvisorMetrics {
  readonly registry: Registry;
  /** Answers given, by where the question came from (http, ws) and why (asked, evidence). */
  readonly answers: Counter<'via' | 'why'>;
  /** Questions refused, by the field at fault (indices and unknown names folded). */
  readonly badQuestions: Counter<'field'>;
  /** Questions refused while the advisor was overloaded, by how they came. */
  readonly busyRefusals: Counter<'via'>;
  readonly answerSeconds: Histogram;
  readonly wsClients: Gauge;
  readonly framesIn: Counter;
  readonly framesOut: Counter;
  /** Frames not sent because the client had too much unread. */
  readonly framesDropped: Counter;
  /** Clients closed because they stayed over the bound. */
  readonly slowClientsClosed: Counter;
}

const QUESTION_FIELDS = new Set([
  '(the question)',
  ...Object.keys(AdviceQuestionV1.properties).flatMap((key) => [key, `${key}[]`]),
  ...Object.keys(AdviceQuestionV1.properties.os.properties).map((key) => `os.${key}`),
]);

/**
 * The field a bad question is counted under: indices are folded (`hosts[3]` → `hosts[]`) and
 * a name that is not a field of the question becomes `(other)`, so a client cannot make the
 * label set grow.
 */
export function fieldLabel(field: string): string {
  const folded = field.replace(/^question\.?/, '').replace(/\[\d+\]/g, '[]') || '(the question)';
  return QUESTION_FIELDS.has(folded) ? folded : '(other)';
}

/** The advisor server's own registry (the process may run other services with theirs). */
export function createAdvisorMetrics(): AdvisorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'berth_advisor_' });
  return {
    registry,
    answers: new Counter({
      name: 'berth_advisor_answers_total',
      help: 'answers given, by channel (http, ws) and reason (asked, evidence)',
      labelNames: ['via', 'why'],
      registers: [registry],
    }),
    badQuestions: new Counter({
      name: 'berth_advisor_bad_questions_total',
      help: 'questions refused, by the field at fault',
      labelNames: ['field'],
      registers: [registry],
    }),
    busyRefusals: new Counter({
      name: 'berth_advisor_busy_refusals_total',
      help: 'questions refused while the advisor was overloaded (503 or a busy error frame), by http or ws',
      labelNames: ['via'],
      registers: [registry],
    }),
    answerSeconds: new Histogram({
      name: 'berth_advisor_answer_seconds',
      help: 'time to answer a question',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    wsClients: new Gauge({
      name: 'berth_advisor_ws_clients',
      help: 'WebSocket clients connected',
      registers: [registry],
    }),
    framesIn: new Counter({
      name: 'berth_advisor_ws_frames_in_total',
      help: 'WebSocket frames received',
      registers: [registry],
    }),
    framesOut: new Counter({
      name: 'berth_advisor_ws_frames_out_total',
      help: 'WebSocket frames sent',
      registers: [registry],
    }),
    framesDropped: new Counter({
      name: 'berth_advisor_ws_frames_dropped_total',
      help: 'WebSocket frames dropped because the client had too much unread',
      registers: [registry],
    }),
    slowClientsClosed: new Counter({
      name: 'berth_advisor_ws_slow_clients_closed_total',
      help: 'WebSocket clients closed for staying over the unread bound',
      registers: [registry],
    }),
  };
}
