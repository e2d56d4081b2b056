import { afterEach, describe, expect, it } from 'vitest';
import { decodePhpForm } from '../../../sandbox/portal/index.js';
import { closeStartedPortals, postForm, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('form and JSON bodies', () => {
  it('decodes a PHP-style form body through an inbound webhook', async () => {
    // Prepare
    const { p, hook } = await seeded();

    // Act
    const reply = await postForm(`${hook}imbot.chat.sendTyping.json`, 'BOT_ID=9&DIALOG_ID=27&CLIENT_ID=hook-client-id');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toBe(true);
    expect(p.typingCalls()).toHaveLength(1);
    expect(p.typingCalls()[0]).toMatchObject({ via: 'webhook', userId: 1, params: { BOT_ID: '9', DIALOG_ID: '27' } });
  });

  it('decodes nested and list keys the way PHP does', () => {
    // Act
    const decoded = decodePhpForm(
      'PROPERTIES%5BNAME%5D=Bot&data[PARAMS][DIALOG_ID]=27&list[]=a&list[]=b&__proto__[x]=1',
    );

    // Assess
    expect(decoded).toEqual({
      PROPERTIES: { NAME: 'Bot' },
      data: { PARAMS: { DIALOG_ID: '27' } },
      list: { 0: 'a', 1: 'b' },
    });
  });
});
