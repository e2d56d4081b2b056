/** Points every AWS SDK client the code builds at `endpoint`, with dummy credentials: no test can reach real AWS. */
export function pointAwsSdkAt(endpoint: string): void {
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = endpoint;
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = endpoint;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  process.env.AWS_REGION = 'eu-central-1';
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_SESSION_TOKEN = 'testing';
  delete process.env.AWS_PROFILE;
}
