// Bun's `with { type: "text" }` import of the console's stylesheet: its text.
declare module "*.css" {
  const text: string;
  export default text;
}
