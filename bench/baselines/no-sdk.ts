/**
 * Reference (d), not a competitor: the same work as the baselines with neither the AWS SDK nor `fetch`.
 * GetSecretValue and the DynamoDB requests are signed by hand (SigV4, node:crypto) and every call goes
 * through node:http(s) with a keep-alive agent. It shows how low a cold start of this job can go on this
 * runtime.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { runOnce } from './state-requests.js';
import { typingHandler } from './typing-handler.js';

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

function post(url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: secure ? agents.https : agents.http,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** One AWS JSON-protocol call (`x-amz-target`), SigV4-signed by hand. */
async function awsJson(
  service: { name: string; endpoint: string | undefined; target: string; version: '1.0' | '1.1' },
  input: unknown,
): Promise<string> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const url = new URL(service.endpoint ?? `https://${service.name}.${region}.amazonaws.com/`);
  const body = JSON.stringify(input);
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    'content-type': `application/x-amz-json-${service.version}`,
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-target': service.target,
  };
  if (process.env.AWS_SESSION_TOKEN) headers['x-amz-security-token'] = process.env.AWS_SESSION_TOKEN;
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    '/',
    '',
    ...names.map((n) => `${n}:${headers[n]}`),
    '',
    names.join(';'),
    sha256(body),
  ].join('\n');
  const scope = `${day}/${region}/${service.name}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${process.env.AWS_SECRET_ACCESS_KEY ?? ''}`, day), region), service.name),
    'aws4_request',
  );
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=${names.join(';')}, Signature=${hmac(key, toSign).toString('hex')}`;
  const out = await post(url, headers, body);
  if (out.status !== 200) throw new Error(`${service.target} ${out.status}`);
  return out.text;
}

async function getSecretValue(secretId: string): Promise<string | undefined> {
  const endpoint = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  const target = 'secretsmanager.GetSecretValue';
  const text = await awsJson({ name: 'secretsmanager', endpoint, target, version: '1.1' }, { SecretId: secretId });
  return (JSON.parse(text) as { SecretString?: string }).SecretString;
}

const dynamodb = (operation: string) => (input: unknown) =>
  awsJson(
    {
      name: 'dynamodb',
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      target: `DynamoDB_20120810.${operation}`,
      version: '1.0',
    },
    input,
  );

export const handler = typingHandler(
  getSecretValue,
  async (portal, params) => {
    const url = new URL(`${portal.webhook.url}imbot.chat.sendTyping.json`);
    const out = await post(url, { 'content-type': 'application/json' }, JSON.stringify(params));
    return (JSON.parse(out.text) as { result?: unknown }).result === true;
  },
  runOnce({ put: dynamodb('PutItem'), update: dynamodb('UpdateItem') }),
);
