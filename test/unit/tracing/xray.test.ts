import { createSocket, type Socket } from 'node:dgram';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xrayTracing } from '../../../lib/tracing/xray.js';
import { nodeHttpTransport } from '../../../lib/bitrix24/http-transport.js';

// The X-Ray daemon replaced by a loopback socket that keeps every datagram, and a traced invocation's
// environment as Lambda sets it.
const TRACE = { root: '1-5759e988-bd862e3fe1be46a994272793', parent: '53995c3f42cd8ad8' };
let daemon: Socket;
let server: Server;
let serverUrl: string;
const datagrams: string[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => datagrams.push(message.toString('utf8')));
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  env = {
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: process.cwd(),
    _X_AMZN_TRACE_ID: `Root=${TRACE.root};Parent=${TRACE.parent};Sampled=1`,
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  };
  server = createServer((request, response) => {
    response.statusCode = request.url?.includes('fail') ? 503 : 200;
    response.end('{"result":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  daemon.close();
  await new Promise((resolve) => server.close(resolve));
});

/** The segment document named `name` the daemon received, waiting up to a second for it. */
async function received(
  name: string,
): Promise<Record<string, unknown> & { subsegments?: Array<Record<string, unknown>> }> {
  for (let i = 0; i < 50; i += 1) {
    const found = datagrams.map((d) => JSON.parse(d.split('\n')[1]!)).find((d) => d.name === name);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no segment document named ${name}`);
}

describe('X-Ray tracing', () => {
  it("sends the request as a subsegment of the invocation's trace, labelled with its outcome and portal", async () => {
    // Prepare
    const tracing = xrayTracing(env);

    // Act
    const answer = await tracing.request('POST /typing', async (annotate) => {
      annotate({ outcome: 'OK', status: 200, portal: 'example.bitrix24.com', dialog: undefined });
      return 'answered';
    });

    // Assess
    expect(answer).toBe('answered');
    const document = await received('## POST /typing');
    expect(document).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      name: '## POST /typing',
      start_time: expect.any(Number),
      end_time: expect.any(Number),
      annotations: { outcome: 'OK', status: 200, portal: 'example.bitrix24.com' },
      trace_id: TRACE.root,
      parent_id: TRACE.parent,
      type: 'subsegment',
    });
    expect(datagrams.find((d) => d.includes('## POST /typing'))?.split('\n')[0]).toBe(
      '{"format": "json", "version": 1}',
    );
  });

  it('records each outbound call by host and status, never its path', async () => {
    // Prepare
    const tracing = xrayTracing(env);

    // Act
    await tracing.request('POST /bitrix/events', async (annotate) => {
      // As the portal client calls, then as the AWS SDK does: both on node:http(s).
      const portalCall = { method: 'POST', timeoutMs: 2_000, maxBytes: 1024 } as const;
      await nodeHttpTransport({
        ...portalCall,
        url: `${serverUrl}/rest/1/secret-webhook-code/imbot.chat.sendTyping.json`,
      });
      await nodeHttpTransport({ ...portalCall, url: `${serverUrl}/rest/1/secret-webhook-code/fail` });
      await new Promise((resolve, reject) =>
        httpRequest(`${serverUrl}/secret-path`, { method: 'PUT' }, (response) => response.resume().on('end', resolve))
          .on('error', reject)
          .end(),
      );
      annotate({ outcome: 'OK', status: 200 });
    });

    // Assess
    const document = await received('## POST /bitrix/events');
    expect(document.subsegments?.map((s) => [s.name, s.namespace, s.http, s.fault ?? false])).toEqual([
      ['127.0.0.1', 'remote', { request: { method: 'POST', url: `${serverUrl}/` }, response: { status: 200 } }, false],
      ['127.0.0.1', 'remote', { request: { method: 'POST', url: `${serverUrl}/` }, response: { status: 503 } }, true],
      ['127.0.0.1', 'remote', { request: { method: 'PUT', url: `${serverUrl}/` }, response: { status: 200 } }, false],
    ]);
    expect(datagrams.join('\n')).not.toMatch(/secret-webhook-code|secret-path/);
  });

  it('marks a 5xx answer and a thrown error as faults, and rethrows the error', async () => {
    // Prepare
    const tracing = xrayTracing(env);

    // Act
    await tracing.request('POST /fault-answer', async (annotate) =>
      annotate({ outcome: 'UPSTREAM_ERROR', status: 502 }),
    );
    const thrown = tracing.request('POST /fault-thrown', async () => {
      throw new Error('state store down');
    });

    // Assess
    await expect(thrown).rejects.toThrow('state store down');
    expect(await received('## POST /fault-answer')).toMatchObject({ fault: true });
    expect(await received('## POST /fault-thrown')).toMatchObject({ fault: true });
  });

  it('sends nothing for an invocation X-Ray did not sample', async () => {
    // Prepare
    const tracing = xrayTracing({ ...env, _X_AMZN_TRACE_ID: `Root=${TRACE.root};Parent=${TRACE.parent};Sampled=0` });

    // Act
    const answer = await tracing.request('POST /unsampled', async () => 'answered');
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Assess
    expect(answer).toBe('answered');
    expect(datagrams.some((d) => d.includes('## POST /unsampled'))).toBe(false);
  });

  it('names its fields as the X-Ray SDK does in the subsegments it sends (through Powertools Tracer)', async () => {
    // Prepare: the SDK reads its environment when loaded.
    Object.assign(process.env, env);
    const { Tracer } = await import('@aws-lambda-powertools/tracer');
    const tracer = new Tracer({ serviceName: 'bitrix24-typing' });
    const parent = tracer.getSegment()!;
    const reference = parent.addNewSubsegment('## reference');
    reference.addAnnotation('outcome', 'OK');
    reference.close();
    await xrayTracing(env).request('POST /ours', async (annotate) => annotate({ outcome: 'OK' }));

    // Assess
    const sdk = await received('## reference');
    const ours = await received('## POST /ours');
    expect(Object.keys(ours).filter((key) => !(key in sdk))).toEqual([]);
    expect([ours.trace_id, ours.parent_id, ours.type]).toEqual([sdk.trace_id, sdk.parent_id, sdk.type]);
  });
});
