import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, postJson, seeded, type Reply } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('rate limit', () => {
  it('answers 503 QUERY_LIMIT_EXCEEDED past the burst and records the refusal', async () => {
    // Prepare
    const { hook, p } = await seeded({ burst: 3, drainPerSecond: 0.001 });

    // Act
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await postJson(`${hook}profile`, {}));

    // Assess
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 503]);
    expect(replies[3]?.body.error).toBe('QUERY_LIMIT_EXCEEDED');
    expect(p.calls[3]).toMatchObject({ status: 503, error: 'QUERY_LIMIT_EXCEEDED' });
  });

  it('lets calls through again once the bucket drains', async () => {
    // Prepare
    const { hook } = await seeded({ burst: 2, drainPerSecond: 20 });
    await postJson(`${hook}profile`, {});
    await postJson(`${hook}profile`, {});
    const refused = await postJson(`${hook}profile`, {});

    // Act
    await new Promise((resolve) => setTimeout(resolve, 150));
    const later = await postJson(`${hook}profile`, {});

    // Assess
    expect(refused.status).toBe(503);
    expect(later.status).toBe(200);
  });

  it('lets scripted responses bypass the bucket', async () => {
    // Prepare
    const { hook, p } = await seeded({ burst: 1, drainPerSecond: 0.001 });
    await postJson(`${hook}profile`, {});
    p.script('profile', [{ status: 200, body: { result: 'scripted' } }]);

    // Act
    const reply = await postJson(`${hook}profile`, {});

    // Assess
    expect(reply.body.result).toBe('scripted');
  });
});
