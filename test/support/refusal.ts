import { expect } from 'vitest';
import { ServiceError } from '../../lib/errors/index.js';

/** Runs `act`, which must refuse with a ServiceError, and returns that error for the test to inspect. */
export function refusal(act: () => unknown): ServiceError {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error('expected a refusal, but the call succeeded');
}
