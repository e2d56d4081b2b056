/** What `npm run bench -- <args>` may change. */
export interface Options {
  /** `--quick`: fewer rounds and requests, for a smoke check. */
  quick: boolean;
  /** `--rounds N`: measured cold-start rounds. */
  rounds: number;
  /** `--warm-requests N`: requests the warm-overhead stage times. */
  warmRequests: number;
  /** `--only <stage>`: run one stage (and the bundles it needs); a debugging aid, the report then shows only it. */
  only: string | undefined;
  /** `--cpu-prof`: cold-start and warm children write V8 CPU profiles (diagnostic: times are perturbed). */
  cpuProf: boolean;
  /** `--no-source-maps`: the cold-start comparison without the NODE_OPTIONS serverless.yml sets, if any. */
  noSourceMaps: boolean;
  /** `--variant name=path/to/handler.ts` (repeatable): a handler of your own in the cold-start comparison. */
  variants: Array<{ name: string; entry: string }>;
}

export function parseOptions(args: string[]): Options {
  const quick = args.includes('--quick');
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const only = args.indexOf('--only');
  const variants: Options['variants'] = [];
  args.forEach((arg, i) => {
    if (arg !== '--variant') return;
    const [name, entry] = (args[i + 1] ?? '').split('=');
    if (!name || !entry) throw new Error('--variant needs name=path/to/handler.ts');
    variants.push({ name, entry });
  });
  return {
    quick,
    rounds: value('--rounds') ?? (quick ? 10 : 20),
    warmRequests: value('--warm-requests') ?? (quick ? 1000 : 2000),
    only: only >= 0 ? args[only + 1] : undefined,
    cpuProf: args.includes('--cpu-prof'),
    noSourceMaps: args.includes('--no-source-maps'),
    variants,
  };
}

/** Whether `--only` leaves this stage in; the bundle stages always run, the others need their output. */
export function stageSelected(options: Options, stage: string): boolean {
  return !options.only || stage.toLowerCase().startsWith(options.only.toLowerCase()) || stage.includes('undle');
}
