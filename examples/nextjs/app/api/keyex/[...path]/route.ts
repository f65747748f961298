import { responder } from '../../../../lib/responder';

// Node's runtime (the file key store), and no caching or prerendering of these answers.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export function GET(request: Request): Promise<Response> {
  return responder().fetch(request);
}
export function POST(request: Request): Promise<Response> {
  return responder().fetch(request);
}
export function OPTIONS(request: Request): Promise<Response> {
  return responder().fetch(request); // CORS preflights, when `cors` is set
}
