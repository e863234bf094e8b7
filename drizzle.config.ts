import { defineConfig } from "drizzle-kit";

// Only drizzle-kit reads this (to generate SQL from the schema); the service never does.
export default defineConfig({
  dialect: "postgresql",
  schema: "./service/src/db/schema.ts",
  out: "./service/src/db/migrations",
});
