import type { CommandSpec } from '../../command.js';

export const list: CommandSpec = {
  name: 'list',
  summary: 'list the portals that have credentials',
  description: ['Prints the domain of every <prefix>/portals/<domain> secret, one a line. Reads no secret values.'],
  options: {},
  usesSecrets: true,
  examples: ['bitrix24-typing portal list --source secrets-manager --stage prod'],
  async run(ctx) {
    const secrets = ctx.secrets();
    const portals = await ctx.progress('Listing portals', () => secrets.listPortals());
    return {
      json: { prefix: secrets.prefix, source: secrets.source, portals },
      human: portals,
      notes: portals.length === 0 ? [`No portals under ${secrets.prefix}/portals/ in ${secrets.source}.`] : [],
    };
  },
};
