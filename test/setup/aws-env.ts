import { inject } from 'vitest';

// Every test talks to moto on loopback with dummy credentials; nothing can reach real AWS.
const motoUrl = inject('motoUrl');
process.env.AWS_ENDPOINT_URL = motoUrl;
process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = motoUrl;
process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = motoUrl;
process.env.AWS_REGION = 'eu-central-1';
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
process.env.AWS_SESSION_TOKEN = 'testing';
delete process.env.AWS_PROFILE;
