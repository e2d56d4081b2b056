import { SecretStoreError, type SecretStore } from '../../lib/secrets/secret-store.js';

/**
 * An in-memory SecretStore (the port in lib/secrets/secret-store.ts) for unit tests: it records every name
 * read, can be told to fail or to hold reads open, and keeps claims exclusive like the real adapters.
 */
export class MemoryStore implements SecretStore {
  readonly values = new Map<string, string>();
  readonly claims = new Map<string, string>();
  readonly names: string[] = [];
  failing = false;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  get reads(): number {
    return this.names.length;
  }

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  async read(name: string): Promise<string | undefined> {
    this.names.push(name);
    if (this.gate) await this.gate;
    if (this.failing) throw new SecretStoreError(`store unavailable reading ${name}`);
    return this.values.get(name);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.values.keys()].filter((name) => name.startsWith(prefix)).sort();
  }

  async write(name: string, value: string): Promise<'written' | 'conflict'> {
    this.values.set(name, value);
    return 'written';
  }

  async claim(_name: string, key: string, owner: string): Promise<boolean> {
    const existing = this.claims.get(key);
    if (existing !== undefined) return existing === owner;
    this.claims.set(key, owner);
    return true;
  }

  async readClaim(_name: string, key: string): Promise<string | undefined> {
    return this.claims.get(key);
  }
}
