/**
 * The runtime-agnostic core of binks.
 *
 * @module
 */
export { type HttpOptions, HttpServer } from "./server.ts";
export { Connection, errorReply, type Handler } from "./connection.ts";
export { Router } from "./router.ts";
export { IncomingRequest } from "./request.ts";
export { RequestBody } from "./body.ts";
export {
  type HeaderInit,
  json,
  type Reply,
  type ReplyBody,
  StaticReply,
  type StreamBody,
  text,
} from "./response.ts";
export { defaultLimits, type Limits } from "./limits.ts";
export { findHeadEnd, NEED_MORE, parseHead, RequestHead } from "./parser.ts";
export { ChunkedDecoder } from "./chunked.ts";
export { demoApp } from "./demo.ts";
export type {
  AcceptFn,
  ConnectionEvents,
  Listener,
  ListenFn,
  ListenOptions,
  RuntimeName,
  Transport,
} from "./transport.ts";
