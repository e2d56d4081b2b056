import type { TestProject } from 'vitest/node';
import { ensurePythonEnv } from '../../scripts/python-env.mjs';
import { startMoto, type MotoServer } from '../../devtools/moto.js';

let moto: MotoServer | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    motoUrl: string;
  }
}

/**
 * One moto server (Secrets Manager, EventBridge) on loopback for the whole run; each test uses its own names.
 * Vitest calls this only when a test of the project is queued, so the Python tools are provisioned here and
 * a run of the unit suites alone needs no Python.
 */
export async function setup(project: TestProject): Promise<void> {
  ensurePythonEnv();
  moto = await startMoto();
  project.provide('motoUrl', moto.url);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}
