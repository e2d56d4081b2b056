import type { TestProject } from 'vitest/node';
import { startMoto, type MotoServer } from '../support/moto.js';

let moto: MotoServer | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    motoUrl: string;
  }
}

/** One moto server (Secrets Manager, EventBridge) on loopback for the whole run; each test uses its own names. */
export async function setup(project: TestProject): Promise<void> {
  moto = await startMoto();
  project.provide('motoUrl', moto.url);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}
