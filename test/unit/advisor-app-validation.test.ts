import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFakeApp, goodQuestion, type FakeApp } from '../../support/advisor.ts';

interface ErrorReply {
  error: { code: string; field?: string; message: string };
}

let fake: FakeApp;

beforeEach(async () => {
  fake = await buildFakeApp();
});

afterEach(async () => {
  await fake.app.close();
});

const errorOf = (body: string): ErrorReply['error'] => (JSON.parse(body) as ErrorReply).error;

describe('a question the advisor cannot take', () => {
  const good = goodQuestion();
  const bad: readonly [string, unknown, string, string][] = [
    ['an array', [good], '(the question)', '(the question) must be a JSON object'],
    ['an unknown OS family', { ...good, os: { family: 'plan9' } }, 'os.family', 'os.family'],
    ['zero instances', { ...good, instances: 0 }, 'instances', 'instances'],
    ['a field the question lacks', { ...good, colour: 'blue' }, 'colour', 'colour'],
    [
      'an unknown neighbours value',
      { ...good, neighbours: 'crowded' },
      'neighbours',
      'neighbours must be one of own, shared',
    ],
    [
      'an unknown host',
      { ...good, hosts: ['host-a', 'host-nowhere'] },
      'hosts[1]',
      'hosts[1] is not a host the advisor knows: "host-nowhere" (see GET /v1/hosts)',
    ],
  ];

  it.each(bad)(
    'is refused when it is %s: 400 BERTH_ERR_QUESTION naming the field, and counted',
    async (_kind, body, field, message) => {
      const response = await fake.app.inject({
        method: 'POST',
        url: '/v1/advice',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      expect(response.statusCode).toBe(400);
      const error = errorOf(response.body);
      expect(error).toMatchObject({ code: 'BERTH_ERR_QUESTION', field });
      expect(error.message.startsWith(message)).toBe(true);
      expect(fake.calls.asked).toEqual([]);
      const counted = await fake.deps.metrics.badQuestions.get();
      expect(counted.values.map((value) => value.value)).toEqual([1]);
    },
  );

  it('is refused when the body is not JSON, empty, too large or of another type', async () => {
    const post = (payload: string, contentType = 'application/json') =>
      fake.app.inject({
        method: 'POST',
        url: '/v1/advice',
        headers: { 'content-type': contentType },
        payload,
      });
    const notJson = await post('{"workload": ');
    expect(notJson.statusCode).toBe(400);
    expect(errorOf(notJson.body).code).toBe('BERTH_ERR_NOT_JSON');
    expect(errorOf(notJson.body).message).toMatch(/^the body is not JSON: /);

    const empty = await post('');
    expect(empty.statusCode).toBe(400);
    expect(errorOf(empty.body)).toEqual({
      code: 'BERTH_ERR_NOT_JSON',
      message: 'the body is empty',
    });

    const large = await post(JSON.stringify({ ...good, workload: 'x'.repeat(70_000) }));
    expect(large.statusCode).toBe(413);
    expect(errorOf(large.body)).toEqual({
      code: 'BERTH_ERR_TOO_LARGE',
      message: 'the body is over 65536 bytes',
    });

    const text = await post('hello', 'text/plain');
    expect(text.statusCode).toBe(415);
    expect(errorOf(text.body)).toEqual({
      code: 'BERTH_ERR_NOT_JSON',
      message: 'send the question as application/json',
    });
    expect(fake.calls.asked).toEqual([]);
  });
});

describe('a query parameter the advisor cannot take', () => {
  const TOKEN_RULE = 'must be 1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit, given once';
  const bad: readonly [string, string, string][] = [
    ['/v1/advice?colour=red', 'colour', 'colour is not a parameter (use limit, before)'],
    ['/v1/advice?limit=0', 'limit', 'limit must be a whole number from 1 to 500, given once'],
    ['/v1/advice?limit=501', 'limit', 'limit must be a whole number from 1 to 500, given once'],
    [
      '/v1/advice?limit=1&limit=2',
      'limit',
      'limit must be a whole number from 1 to 500, given once',
    ],
    ['/v1/advice?limit=ten', 'limit', 'limit must be a whole number from 1 to 500, given once'],
    [
      '/v1/advice?before=-1',
      'before',
      `before must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, given once`,
    ],
    ['/v1/results?host=host%20a', 'host', `host ${TOKEN_RULE}`],
    ['/v1/results?platform=vm.*', 'platform', `platform ${TOKEN_RULE}`],
    ['/v1/results?workload=a&workload=b', 'workload', `workload ${TOKEN_RULE}`],
    [
      '/v1/results?colour=red',
      'colour',
      'colour is not a parameter (use host, platform, workload)',
    ],
    ['/v1/results/values', 'workload', 'workload is required'],
    ['/v1/results/values?metric=a.b', 'metric', `metric ${TOKEN_RULE}`],
    [
      '/v1/results/values?workload=cpu-sha256&limit=1001',
      'limit',
      'limit must be a whole number from 1 to 1000, given once',
    ],
    [
      '/v1/dead-letters?limit=0',
      'limit',
      'limit must be a whole number from 1 to 100000, given once',
    ],
    [
      '/v1/dead-letters?limit=100001',
      'limit',
      'limit must be a whole number from 1 to 100000, given once',
    ],
    ['/v1/dead-letters?subject=x', 'subject', 'subject is not a parameter (use limit)'],
  ];

  it.each(bad)(
    '%s is refused with 400 BERTH_ERR_PARAMETER naming it',
    async (url, field, message) => {
      const response = await fake.app.inject(url);
      expect(response.statusCode).toBe(400);
      expect(errorOf(response.body)).toEqual({ code: 'BERTH_ERR_PARAMETER', field, message });
      expect(fake.calls).toMatchObject({ history: [], values: [], deadLetters: [] });
    },
  );
});
