/** Scripted faults: answers a test queues per method to replace normal handling (statuses, HTML pages, resets,
 * late answers), served in order and then forgotten. */
import type { Outcome } from './rest-protocol.js';
import { OAUTH_TOKEN_PATH, type ScriptedResponse } from './types.js';

/** What a script says about one request: an outcome to serve instead of normal handling, and how late to answer.
 * No outcome means "normal handling, answered `delayMs` late". */
export interface ScriptedTurn {
  outcome?: Outcome;
  delayMs: number;
}

/** Unwraps `{delayMs, then}`, adding up the delays; a redirect becomes the answer a server writes for it. */
function unwrap(scripted: ScriptedResponse, delayMs = 0): ScriptedTurn {
  if ('delayMs' in scripted) {
    return scripted.then ? unwrap(scripted.then, delayMs + scripted.delayMs) : { delayMs: delayMs + scripted.delayMs };
  }
  if ('redirect' in scripted) {
    return { outcome: { status: scripted.status ?? 302, body: '', headers: { location: scripted.redirect } }, delayMs };
  }
  return { outcome: scripted, delayMs };
}

export class ScriptedFaults {
  private readonly scripts = new Map<string, ScriptedResponse[]>();

  /** Queues answers for `method` (any letter case, `.json` or not), for '*' (any REST method) or for the
   * OAuth endpoint's path. */
  script(method: string, responses: ScriptedResponse[]): void {
    const key = method === '*' || method === OAUTH_TOKEN_PATH ? method : method.toLowerCase().replace(/\.json$/, '');
    this.scripts.set(key, [...(this.scripts.get(key) ?? []), ...responses]);
  }

  /** Takes the next scripted answer from the first of `keys` that has one. */
  next(...keys: string[]): ScriptedTurn {
    for (const key of keys) {
      const scripted = this.take(key);
      if (scripted) return unwrap(scripted);
    }
    return { delayMs: 0 };
  }

  private take(key: string): ScriptedResponse | undefined {
    const queue = this.scripts.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.scripts.delete(key);
    return next;
  }
}
