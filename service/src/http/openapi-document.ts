/**
 * Turns what @elysiajs/swagger generates into an OpenAPI 3.1 document that validators and client
 * generators accept. The plugin labels TypeBox's JSON Schema as OpenAPI 3.0.3 (which has no
 * `type: "null"` or `const`), leaves responses without the required description, offers every
 * body as JSON, multipart and text alike, and copies schema keywords into response objects.
 * Each rule below states what the app really does, so it holds for every route at once.
 */
import { STATUS_CODES } from "node:http";

type Json = string | number | boolean | null | Json[] | JsonObject;
export interface JsonObject { [key: string]: Json }

const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The served document. `errorBody` is the schema of every error answer, added as the 401 and
 * 403 of each operation that needs a key: the auth guard and the scope checks answer them on
 * every such route, whether or not the route lists them.
 */
export function normaliseDocument(generated: unknown, errorBody: unknown): JsonObject {
  // A plain-data copy: the plugin keeps its objects between requests, and TypeBox's symbol
  // keys and transform functions are not part of the document anyway.
  const doc = plain(generated);
  doc.openapi = "3.1.0";
  const error = plain(errorBody);
  for (const item of Object.values(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const [method, operation] of Object.entries(item)) {
      if (METHODS.has(method) && isObject(operation)) normaliseOperation(operation, error);
    }
  }
  return doc;
}

function plain(value: unknown): JsonObject {
  const copy: Json = JSON.parse(JSON.stringify(value ?? {}));
  if (!isObject(copy)) throw new TypeError("an OpenAPI document must be a JSON object");
  return copy;
}

function normaliseOperation(operation: JsonObject, errorBody: JsonObject): void {
  if (Array.isArray(operation.parameters)) {
    for (const parameter of operation.parameters) {
      if (isObject(parameter) && isObject(parameter.schema)) parameter.schema = parameterSchema(parameter.schema);
    }
  }
  if (isObject(operation.requestBody)) operation.requestBody = requestBody(operation.requestBody);
  const responses: JsonObject = {};
  for (const [status, response] of Object.entries(isObject(operation.responses) ? operation.responses : {})) {
    responses[status] = responseObject(status, isObject(response) ? response : {});
  }
  // An operation without its own `security` inherits the document's: it needs a key.
  const secured = operation.security === undefined || (Array.isArray(operation.security) && operation.security.length > 0);
  if (secured) {
    responses["401"] ??= errorResponse("missing, unknown or revoked API key", errorBody);
    responses["403"] ??= errorResponse("the key may not do this (a user key acting on another user's records, or an admin-only route)", errorBody);
  }
  operation.responses = responses;
}

const errorResponse = (description: string, schema: JsonObject): JsonObject =>
  ({ description, content: { "application/json": { schema } } });

/**
 * Elysia's t.Integer is `string (format integer) | integer` so that it can coerce query and
 * path text; on the wire a parameter is text anyway, and its value is the integer.
 */
function parameterSchema(schema: JsonObject): JsonObject {
  const branches = Array.isArray(schema.anyOf) ? schema.anyOf : [];
  const [text, integer] = branches;
  const isElysiaInteger = branches.length === 2 && isObject(text) && text.type === "string" && text.format === "integer"
    && isObject(integer) && integer.type === "integer";
  if (!isElysiaInteger) return schema;
  const { anyOf: _, ...options } = schema;
  return { ...options, ...integer };
}

/** The app's parser takes JSON objects, and multipart only for a file upload (the CSV import). */
function requestBody(body: JsonObject): JsonObject {
  const content = isObject(body.content) ? body.content : {};
  const [media] = Object.values(content);
  const schema = isObject(media) && isObject(media.schema) ? media.schema : {};
  const type = hasFile(schema) ? "multipart/form-data" : "application/json";
  return { ...body, content: { [type]: { schema } } };
}

const hasFile = (schema: JsonObject): boolean =>
  isObject(schema.properties) && Object.values(schema.properties).some((p) => isObject(p) && p.format === "binary");

/**
 * Only `description`, `headers` and `content` belong in a response object. Elysia sends a
 * string as text/plain and anything else as JSON, so the one schema gets that one media type.
 */
function responseObject(status: string, response: JsonObject): JsonObject {
  const description = typeof response.description === "string" && response.description !== ""
    ? response.description
    : STATUS_CODES[Number(status)] ?? `HTTP ${status}`;
  const out: JsonObject = { description };
  if (isObject(response.headers)) out.headers = response.headers;
  const media = isObject(response.content) ? Object.values(response.content)[0] : undefined;
  if (isObject(media) && isObject(media.schema)) {
    out.content = declaredMedia(media.schema) ?? { [media.schema.type === "string" ? "text/plain" : "application/json"]: { schema: media.schema } };
  }
  return out;
}

/**
 * A route that answers other media (a QR image, the preview page) says so with JSON Schema's
 * `contentMediaType`, on the schema or on each branch of an `anyOf`: each is that media type.
 */
function declaredMedia(schema: JsonObject): JsonObject | undefined {
  const branches = Array.isArray(schema.anyOf) ? schema.anyOf : [schema];
  const content: JsonObject = {};
  for (const branch of branches) {
    if (!isObject(branch) || typeof branch.contentMediaType !== "string") return undefined;
    content[branch.contentMediaType] = { schema: branch };
  }
  return content;
}
