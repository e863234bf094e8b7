/** Schemas shared by every route's OpenAPI description. */
import { t } from "elysia";

export const ErrorBody = t.Object(
  { error: t.String({ description: "short reason, e.g. Not Found" }), message: t.String({ description: "human detail" }) },
  { additionalProperties: true },
);
