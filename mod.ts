/**
 * binks: a minimal, fast HTTP/1.1 server for Deno, Bun and Node.js.
 *
 * ```ts
 * import { Router, serve } from "binks";
 * const app = new Router().get("/", () => ({ body: "hello" }));
 * await serve({ port: 3000, handler: app.handler });
 * ```
 *
 * @module
 */
export * from "./src/mod.ts";
export { serve, type ServeOptions, type Server } from "./serve.ts";
export { detectRuntime, loadAdapter } from "./adapters/detect.ts";
export { nodeFileSystem } from "./adapters/fs.ts";
