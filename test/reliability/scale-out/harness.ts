/**
 * The multi-process harness of the scale-out suite: each Lambda container is an OS process of its own
 * (container.ts, bundled once per file) running one function's real handler, so nothing is shared but Secrets
 * Manager (moto), the state table (moto, through the serialising proxy) and the loopback portal. A file calls
 * `useContainers()` once.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcessContainer, useContainerBundle, type InvocationResult } from '../../support/process-container.js';

const here = dirname(fileURLToPath(import.meta.url));
let bundle = '';

/** Bundles the container once for the file, and ends every container a test started. */
export function useContainers(): void {
  bundle = useContainerBundle(join(here, 'container.ts'), 'scale-out');
}

export type ContainerResult = InvocationResult;

export interface Container {
  pid: number;
  fire(fireAt: number, event: APIGatewayProxyEventV2): Promise<ContainerResult>;
  /** Ends stdin: the process exits once its invocations have answered. */
  close(): void;
}

export async function startContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const spawned = await startProcessContainer<{ fireAt: number; event: APIGatewayProxyEventV2 }, ContainerResult>(
    bundle,
    env,
    30_000,
  );
  return { ...spawned, fire: (fireAt, event) => spawned.send({ fireAt, event }) };
}

/** Starts `count` containers with one environment; they start side by side, as Lambda scales out. */
export function startContainers(count: number, env: NodeJS.ProcessEnv): Promise<Container[]> {
  return Promise.all(Array.from({ length: count }, () => startContainer(env)));
}

/** Hands each container its event, all to be invoked at one instant a little ahead. */
export function fireAtOnce(containers: Container[], eventOf: (index: number) => APIGatewayProxyEventV2) {
  const fireAt = Date.now() + 200;
  return Promise.all(containers.map((container, index) => container.fire(fireAt, eventOf(index))));
}
