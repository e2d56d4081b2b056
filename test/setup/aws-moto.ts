import { inject } from 'vitest';
import { pointAwsSdkAt } from './aws-endpoint.js';

// Suites that use Secrets Manager or EventBridge talk to the run's moto server on loopback.
pointAwsSdkAt(inject('motoUrl'));
