import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('latency and closing', () => {
  it('delays normal answers by the latency set', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.setLatency(200);

    // Act
    const started = Date.now();
    const reply = await postJson(`${hook}profile`, {});

    // Assess
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('closes promptly even with an answer still pending', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('profile', [{ delayMs: 10_000 }]);
    const pending = fetch(`${hook}profile`, { method: 'POST' }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Act
    const started = Date.now();
    await p.close();

    // Assess
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
