// Types for files imported as embedded assets (`with { type: "file" }` gives a path, `"text"` the contents).
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.data" {
  const path: string;
  export default path;
}
declare module "*.zkey" {
  const path: string;
  export default path;
}
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "htmx.org/dist/htmx.min.js" {
  const text: string;
  export default text;
}
declare module "*/static/app.js" {
  const text: string;
  export default text;
}
declare module "*/static/wallet.js" {
  const text: string;
  export default text;
}
