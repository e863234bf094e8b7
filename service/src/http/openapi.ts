/** Schemas shared by every route's OpenAPI description. */
import { Type, type IntegerOptions } from "@sinclair/typebox";
import { t } from "elysia";

export const ErrorBody = t.Object(
  { error: t.String({ description: "short reason, e.g. Not Found" }), message: t.String({ description: "human detail" }) },
  { additionalProperties: true },
);

/** What a DELETE answers: 204 and no body. */
export const NoContent = t.Void({ description: "done; no body" });

/**
 * An integer the server writes into a response. Not t.Integer: Elysia's also admits numeric
 * strings (it coerces query and path text), so clients generated from it would type every id
 * as `string | number`.
 */
export const JsonInt = (options?: IntegerOptions) => Type.Integer(options);
