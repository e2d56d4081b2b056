import { pointAwsSdkAt } from './aws-endpoint.js';

// Suites without the emulator get an endpoint nothing listens on, so a stray AWS call fails at once on loopback
// instead of reaching real AWS or waiting on the SDK's credential chain.
pointAwsSdkAt('http://127.0.0.1:9');
