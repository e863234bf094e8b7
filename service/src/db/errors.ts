/** Reading errors from drizzle and postgres.js. */
import postgres from "postgres";

/**
 * An error the PostgreSQL server sent (it has a SQLSTATE), as opposed to a connection error. By
 * class, not by `name`: the released binary is minified, and a name check that held from source
 * failed there (every lock timeout answered 500 instead of 503 on the VM bed).
 */
export const isServerError = (error: unknown): error is postgres.PostgresError => error instanceof postgres.PostgresError;

/** drizzle wraps the driver's error (DrizzleQueryError) and keeps it as `cause`. */
export function driverError(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 3 && current instanceof Error && !("code" in current) && current.cause !== undefined; depth++) {
    current = current.cause;
  }
  return current;
}

/** The SQLSTATE (or postgres.js connection code) of a failed query, if any. */
export const errorCode = (error: unknown): string | undefined => {
  const code = (driverError(error) as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
};

/** True when a query failed on a unique constraint (SQLSTATE 23505). */
export const isUniqueViolation = (error: unknown): boolean => errorCode(error) === "23505";

/** True when a referenced row is missing (SQLSTATE 23503). */
export const isForeignKeyViolation = (error: unknown): boolean => errorCode(error) === "23503";

/**
 * True when a sequence reached its maximum (SQLSTATE 2200H). Class 22 is otherwise "this value is
 * bad", but here no value of the client's is at fault and every later insert fails the same way:
 * an outage for the operator (alerted), never a 400 and never a reason to drop data as bad.
 */
export const isSequenceExhausted = (error: unknown): boolean => errorCode(error) === "2200H";
