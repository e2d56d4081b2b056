// A cold container, as a fresh process: import the bundle (module scope runs here, as on Lambda's init), serve
// one event, print the answer, then the peak RSS. Identical for every variant the cold-start stage compares.
// argv: <bundle.mjs>; env BENCH_EVENT: the API Gateway event (JSON), signed by the parent.
const { handler } = await import(process.argv[2]);
const until = Date.now() + 10_000;
const context = {
  awsRequestId: 'bench-cold-start',
  functionName: 'bench',
  getRemainingTimeInMillis: () => Math.max(0, until - Date.now()),
};
const response = await handler(JSON.parse(process.env.BENCH_EVENT), context);
process.stdout.write(`BENCH_RESPONSE ${JSON.stringify({ statusCode: response.statusCode, body: response.body })}\n`);
process.stdout.write(`BENCH_RSS ${process.resourceUsage().maxRSS}\n`);
process.exit(0);
