import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tracing } from '../../../lib/tracing/index.js';

// A traced function's environment as Lambda sets it, with the X-Ray daemon replaced by a loopback socket that
// keeps what reaches it. Set before the tracer (and the X-Ray SDK) is loaded, as on Lambda.
let daemon: Socket;
const documents: Array<Record<string, unknown>> = [];
let tracing: Tracing;

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => {
    // Each datagram: a header line, then the segment document.
    const [, body] = message.toString('utf8').split('\n');
    if (body) documents.push(JSON.parse(body) as Record<string, unknown>);
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  Object.assign(process.env, {
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: process.cwd(),
    _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  });
  const { powertoolsTracing } = await import('../../../lib/tracing/powertools.js');
  tracing = await powertoolsTracing('bitrix24-typing');
});
afterAll(() => daemon.close());

async function documentNamed(name: string): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 50 && !documents.some((d) => d.name === name); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return documents.find((d) => d.name === name);
}

describe('tracing through Powertools Tracer', () => {
  it("sends the request's subsegment, named for its route and annotated with its outcome and portal", async () => {
    // Act
    const answer = await tracing.request('POST /typing', async (annotate) => {
      annotate({ outcome: 'OK', status: 200, portal: 'example.bitrix24.com', dialog: undefined });
      return 'answered';
    });

    // Assess
    expect(answer).toBe('answered');
    const segment = await documentNamed('## POST /typing');
    expect(segment).toMatchObject({
      trace_id: '1-5759e988-bd862e3fe1be46a994272793',
      parent_id: '53995c3f42cd8ad8',
      annotations: {
        Service: 'bitrix24-typing',
        outcome: 'OK',
        status: 200,
        portal: 'example.bitrix24.com',
      },
    });
    expect(segment?.end_time).toEqual(expect.any(Number));
  });

  it('marks the subsegment with the error a request threw, and rethrows it', async () => {
    // Act
    const failed = tracing.request('POST /bitrix/events', async () => {
      throw new Error('verification store down');
    });

    // Assess
    await expect(failed).rejects.toThrow('verification store down');
    const segment = await documentNamed('## POST /bitrix/events');
    expect(segment).toMatchObject({ fault: true, annotations: { Service: 'bitrix24-typing' } });
  });
});
