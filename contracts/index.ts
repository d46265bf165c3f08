import { createCodec } from './codec.ts';
import { DeadLetterV1 } from './dead-letter.ts';
import { HeartbeatV1, HostInventoryV1 } from './inventory.ts';
import { JobProgressV1, JobRequestV1 } from './job.ts';
import { ResultBatchV1, ResultBatchV2 } from './result.ts';
import { RunnerLineV1 } from './runner.ts';
import { StoredNoticeV1 } from './stored.ts';

export * from './errors.ts';
export * from './ids.ts';
export * from './subjects.ts';
export * from './codec.ts';
export type {
  ResultBatch,
  ResultMetric,
  ResultMetricV2,
  Comparison,
  Verdict,
  Platform,
  Accel,
} from './result.ts';
export type { HostInventory, Heartbeat } from './inventory.ts';
export type { JobRequest, JobProgress } from './job.ts';
export type { DeadLetter } from './dead-letter.ts';
export type { RunnerLine, RunnerResult } from './runner.ts';
export type { StoredNotice } from './stored.ts';
export {
  ResultBatchV1,
  ResultBatchV2,
  HostInventoryV1,
  HeartbeatV1,
  JobRequestV1,
  JobProgressV1,
  DeadLetterV1,
  RunnerLineV1,
  StoredNoticeV1,
};

export const resultBatchCodec = createCodec('result batch', {
  1: ResultBatchV1,
  2: ResultBatchV2,
});
export const hostInventoryCodec = createCodec('host inventory', { 1: HostInventoryV1 });
export const heartbeatCodec = createCodec('heartbeat', { 1: HeartbeatV1 });
export const jobRequestCodec = createCodec('job request', { 1: JobRequestV1 });
export const jobProgressCodec = createCodec('job progress', { 1: JobProgressV1 });
export const deadLetterCodec = createCodec('dead letter', { 1: DeadLetterV1 });
export const runnerLineCodec = createCodec('runner line', { 1: RunnerLineV1 });
export const storedNoticeCodec = createCodec('stored notice', { 1: StoredNoticeV1 });
