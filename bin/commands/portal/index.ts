import type { CommandGroup } from '../../command.js';
import { add } from './add.js';
import { check } from './check.js';
import { list } from './list.js';
import { rotateWebhook } from './rotate-webhook.js';

export const portalGroup: CommandGroup = {
  name: 'portal',
  summary: 'portal credentials',
  commands: [add, rotateWebhook, list, check],
};
