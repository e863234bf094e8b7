/**
 * The closed list of errors a client can see. Services throw these with a message; the app's
 * error handler renders them as `{"error", "message", ...extra}`.
 */
const KINDS = {
  badRequest: [400, "Bad Request"],
  unauthorized: [401, "Unauthorized"],
  forbidden: [403, "Forbidden"],
  notFound: [404, "Not Found"],
  methodNotAllowed: [405, "Method Not Allowed"],
  conflict: [409, "Conflict"],
  gone: [410, "Gone"],
  payloadTooLarge: [413, "Payload Too Large"],
  unsupportedMediaType: [415, "Unsupported Media Type"],
  tooManyRequests: [429, "Too Many Requests"],
  unavailable: [503, "Service Unavailable"],
} as const;

export type ErrorKind = keyof typeof KINDS;

export class ApiError extends Error {
  readonly status: number;
  readonly error: string;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    [this.status, this.error] = KINDS[kind];
  }

  body(): Record<string, unknown> {
    return { error: this.error, message: this.message, ...this.extra };
  }
}

export const badRequest = (message: string, extra?: Record<string, unknown>) => new ApiError("badRequest", message, extra);
export const notFound = (message: string) => new ApiError("notFound", message);
export const conflict = (message: string) => new ApiError("conflict", message);
export const forbidden = (message: string) => new ApiError("forbidden", message);
export const unauthorized = (message: string) =>
  new ApiError("unauthorized", message, {}, { "WWW-Authenticate": 'Bearer realm="linkfort"' });
export const unavailable = (message: string, retryAfterSeconds: number) =>
  new ApiError("unavailable", message, {}, { "Retry-After": String(retryAfterSeconds) });

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function errorResponse(err: ApiError): Response {
  return jsonResponse(err.status, err.body(), err.headers);
}
