import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ServiceError } from '../lib/errors/index.js';
import { problem, type HttpResponse } from '../lib/http/response.js';

/** `POST /bitrix/events`: Bitrix24 bot events. Not built yet (issue "Bot events"). */
export async function handler(_event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> {
  return problem(new ServiceError('NOT_IMPLEMENTED', 'Bot events are not handled yet.'), context.awsRequestId);
}
