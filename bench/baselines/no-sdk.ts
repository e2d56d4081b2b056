/**
 * Reference (d), not a competitor: the same work as the baselines with neither the AWS SDK nor `fetch`.
 * GetSecretValue is signed by hand (SigV4, node:crypto) and both calls go through node:http(s) with a
 * keep-alive agent. It shows how low a cold start of this job can go on this runtime.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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

async function getSecretValue(secretId: string): Promise<string | undefined> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const url = new URL(
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? `https://secretsmanager.${region}.amazonaws.com/`,
  );
  const body = JSON.stringify({ SecretId: secretId });
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1',
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-target': 'secretsmanager.GetSecretValue',
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
  const scope = `${day}/${region}/secretsmanager/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${process.env.AWS_SECRET_ACCESS_KEY ?? ''}`, day), region), 'secretsmanager'),
    'aws4_request',
  );
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=${names.join(';')}, Signature=${hmac(key, toSign).toString('hex')}`;
  const out = await post(url, headers, body);
  if (out.status !== 200) throw new Error(`GetSecretValue ${out.status}`);
  return (JSON.parse(out.text) as { SecretString?: string }).SecretString;
}

export const handler = typingHandler(getSecretValue, async (portal, params) => {
  const url = new URL(`${portal.webhook.url}imbot.chat.sendTyping.json`);
  const out = await post(url, { 'content-type': 'application/json' }, JSON.stringify(params));
  return (JSON.parse(out.text) as { result?: unknown }).result === true;
});
