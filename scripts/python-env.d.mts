// Types for python-env.mjs, which stays plain JavaScript so scripts can run it before anything is compiled.
export declare const venv: string;
export declare function venvBin(name: string): string;
export declare function ensurePythonEnv(options?: { quiet?: boolean }): void;
