import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe("a method's execution-time budget (OPERATION_TIME_LIMIT)", () => {
  it('reports operating 0 and a reset ten minutes after the call while the budget is untouched', async () => {
    // Prepare
    const { hook } = await seeded();

    // Act
    const reply = await postJson(`${hook}imbot.chat.sendTyping`, { CLIENT_ID: 'hook-client-id', DIALOG_ID: '27' });

    // Assess
    const time = reply.body.time as { start: number; operating: number; operating_reset_at: number };
    expect(time.operating).toBe(0);
    expect(time.operating_reset_at).toBe(Math.floor(time.start) + 600);
  });

  it('runs the call that crosses the limit, refuses the next with 429 OPERATION_TIME_LIMIT, and other methods still run', async () => {
    // Prepare: old behaviour had no budget at all, so item 5 of the service could not be tested.
    const { p, hook } = await seeded({ operatingLimitSeconds: 480 });
    p.setOperatingCost('imbot.chat.sendTyping', 500);
    const typing = () => postJson(`${hook}imbot.chat.sendTyping`, { CLIENT_ID: 'hook-client-id', DIALOG_ID: '27' });

    // Act
    const first = await typing();
    const second = await typing();
    const other = await postJson(`${hook}profile`, {});

    // Assess
    const time = first.body.time as { start: number; operating: number; operating_reset_at: number };
    expect(first.status).toBe(200);
    expect(time.operating).toBe(500);
    expect(time.operating_reset_at).toBe(Math.floor(time.start) + 600);
    expect(second.status).toBe(429);
    expect(second.body).toEqual({
      error: 'OPERATION_TIME_LIMIT',
      error_description: 'Method is blocked due to operation time limit.',
    });
    expect(other.status).toBe(200);
  });

  it('keeps one budget per application or webhook: another application is not blocked', async () => {
    // Prepare
    const { p, hook, tokens } = await seeded();
    p.setOperatingCost('imbot.chat.sendTyping', 500);
    await postJson(`${hook}imbot.chat.sendTyping`, { CLIENT_ID: 'hook-client-id', DIALOG_ID: '27' });

    // Act
    const viaOAuth = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: tokens.accessToken,
      BOT_ID: 7,
      DIALOG_ID: '27',
    });

    // Assess
    expect(viaOAuth.status).toBe(200);
  });
});
