import type { TraceAnnotations, Tracing } from './index.js';

/**
 * X-Ray through Powertools Tracer. Constructing the Tracer instruments `fetch` (the portal and OAuth calls) and
 * Node's https module (the AWS SDK's calls to Secrets Manager, DynamoDB and EventBridge), so each shows as a
 * subsegment of the request's.
 *
 * The Tracer is never bundled (serverless.yml excludes it from the build): with tracing on, the deployment adds
 * the Powertools Lambda layer of the same version, which provides it and the X-Ray SDK; without tracing nothing
 * imports it. Its import cost is measured in BENCHMARKS.md.
 */
export async function powertoolsTracing(service: string): Promise<Tracing> {
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const tracer = new Tracer({ serviceName: service });
  return {
    async request(route, work) {
      const parent = tracer.getSegment();
      if (!tracer.isTracingEnabled() || !parent) return work(() => undefined);
      const segment = parent.addNewSubsegment(`## ${route}`);
      tracer.setSegment(segment);
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      const annotate = (fields: TraceAnnotations) => {
        for (const [key, value] of Object.entries(fields)) if (value !== undefined) tracer.putAnnotation(key, value);
      };
      try {
        return await work(annotate);
      } catch (error) {
        tracer.addErrorAsMetadata(error as Error);
        throw error;
      } finally {
        segment.close();
        tracer.setSegment(parent);
      }
    },
  };
}
