// `npm start`: serves both routes through serverless-offline on http://localhost:${PORT:-3000}.
import { spawn } from 'node:child_process';

const child = spawn('npx', ['osls', 'offline', 'start', '--stage', process.env.STAGE ?? 'dev'], { stdio: 'inherit', env: process.env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
