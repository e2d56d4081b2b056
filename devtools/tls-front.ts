import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { listenOnLoopback, onWholeBody, relay } from './loopback-proxy.js';

/**
 * An HTTPS front for a loopback HTTP server such as the portal simulator. `@bitrix24/b24jssdk` always calls
 * `https://<domain>/rest/...`, and real portals are HTTPS, so a client under test can be sent through this
 * front. The certificate is a throwaway one for 127.0.0.1, made with openssl once into `cacheDir`; child
 * processes trust it through NODE_EXTRA_CA_CERTS=`caFile`.
 */
export interface TlsFront {
  url: string;
  caFile: string;
  close(): Promise<void>;
}

export async function startTlsFront(upstream: string, cacheDir: string): Promise<TlsFront> {
  const { keyFile, certFile } = loopbackCertificate(cacheDir);
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const server = createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {
    onWholeBody(req, (body) => {
      relay(target, req, res, { headers: req.headers, body, agent }).on('error', () => {
        res.writeHead(502);
        res.end();
      });
    });
  });
  const listening = await listenOnLoopback(server, 'https');
  return {
    url: listening.url,
    caFile: certFile,
    close: async () => {
      agent.destroy();
      await listening.close();
    },
  };
}

function loopbackCertificate(cacheDir: string): { keyFile: string; certFile: string } {
  mkdirSync(cacheDir, { recursive: true });
  const keyFile = join(cacheDir, 'loopback-key.pem');
  const certFile = join(cacheDir, 'loopback-cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    // prettier-ignore
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
    ], { stdio: 'ignore' });
  }
  return { keyFile, certFile };
}
