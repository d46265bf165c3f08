import type { Advice } from '../../contracts/advice.ts';
import type { ServerFrame } from '../../contracts/advisor-frames.ts';

/**
 * An answer's JSON text, made once per answer: the HTTP response or WebSocket frame that
 * carries it and the audit log that keeps it share one serialization of a document of tens of
 * KB. The audit log lets go of the text once it has written the answer, so texts are held only
 * until then.
 */
const texts = new WeakMap<Advice, string>();

/** `JSON.stringify(advice)`, computed once per answer object while it is held. */
export function adviceJson(advice: Advice): string {
  let text = texts.get(advice);
  if (text === undefined) {
    text = JSON.stringify(advice);
    texts.set(advice, text);
  }
  return text;
}

/** Lets go of an answer's text (it is made again if asked for). */
export function forgetAdviceJson(advice: Advice): void {
  texts.delete(advice);
}

/** The text of an answer frame: `JSON.stringify(frame)`, with the answer's text reused. */
export function answerFrameText({
  id,
  advice,
  why,
}: Extract<ServerFrame, { type: 'answer' }>): string {
  const idField = id === undefined ? '' : `"id":${JSON.stringify(id)},`;
  return `{"type":"answer",${idField}"advice":${adviceJson(advice)},"why":${JSON.stringify(why)}}`;
}
