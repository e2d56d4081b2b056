/**
 * Tracing, off by default: the port the request wrapper runs each request through, a stand-in that does
 * nothing, and the X-Ray adapter (`xray.ts`).
 */

/** X-Ray annotations: indexed, so traces can be filtered by them (e.g. `annotation.portal = "..."`). */
export type TraceAnnotations = Record<string, string | number | boolean | undefined>;

export interface Tracing {
  /** Runs one request inside a trace subsegment named for its route; `annotate` labels that subsegment. */
  request<T>(route: string, work: (annotate: (fields: TraceAnnotations) => void) => Promise<T>): Promise<T>;
}

export const noTracing: Tracing = {
  request: (_route, work) => work(() => undefined),
};

/** A tracing adapter loaded on the first request: a function without tracing never evaluates it. */
export function lazyTracing(load: () => Promise<Tracing>): Tracing {
  let loaded: Promise<Tracing> | undefined;
  return {
    async request(route, work) {
      loaded ??= load();
      return (await loaded).request(route, work);
    },
  };
}
