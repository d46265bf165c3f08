import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORED_SUBJECT, storedNoticeCodec, type StoredNotice } from '../../contracts/index.ts';
import { startIngestStack, type IngestStack } from '../../support/ingest.ts';
import { makeResult, publishResults } from '../../support/results.ts';
import { cleanUp } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

describe('stored notices', () => {
  let stack: IngestStack;

  beforeAll(async () => {
    stack = await startIngestStack();
  });

  afterAll(async () => {
    await cleanUp(() => stack.stop());
  });

  it('announces on berth.stored which hosts had results stored, once they are', async () => {
    const notices: StoredNotice[] = [];
    const subscription = stack.nc.subscribe(STORED_SUBJECT, {
      callback: (error, message) => {
        if (error !== null) return;
        const decoded = storedNoticeCodec.decode(message.data, 1 << 20);
        if (decoded.ok) notices.push(decoded.value);
      },
    });
    const batches = [
      ...Array.from({ length: 30 }, (_, index) => makeResult(index, 'notice-a')),
      ...Array.from({ length: 20 }, (_, index) => makeResult(index, 'notice-b')),
    ];
    await publishResults(stack.nc, batches);
    await waitFor(
      'notices for all 50 results',
      () => notices.reduce((sum, notice) => sum + notice.results, 0) >= 50,
    );
    expect(notices.reduce((sum, notice) => sum + notice.results, 0)).toBe(50);
    expect(new Set(notices.flatMap((notice) => notice.hosts))).toEqual(
      new Set(['notice-a', 'notice-b']),
    );
    subscription.unsubscribe();
  });
});
