/**
 * The runtime-agnostic core of binks.
 *
 * @module
 */
export { type HttpOptions, HttpServer } from "./server.ts";
export { Connection, type ConnectionHost, errorReply, type Handler } from "./connection.ts";
export { AccessLog, type LogInfo } from "./log.ts";
export { Out } from "./response.ts";
export { type Middleware, Router, type RouteResult } from "./router.ts";
export {
  type FetchHandler,
  fetchHandler,
  type FetchHandlerOptions,
  toReply,
  toRequest,
} from "./fetch.ts";
export type { ReadyResponseOptions } from "./web-response.ts";
export { Owned, Scope, type ScopeOptions, Task, type TaskContext } from "./scope.ts";
export {
  Channel,
  type CheckedClause,
  type CheckedClauses,
  choose,
  type ChooseClause,
  type ChooseResult,
  type ClauseShape,
  EMPTY,
  type Empty,
  type Received,
  type ReceivedBy,
} from "./channel.ts";
export {
  deadlineIn,
  now,
  sleep,
  type Timer,
  type TimerCallback,
  timers,
  type TimerTarget,
  TimerWheel,
} from "./clock.ts";
export { Canceled, type Cancellation, type CancelSource, Closed, Timeout } from "./errors.ts";
export { type Endpoint, messagePortEndpoint, PortChannel } from "./port.ts";
export {
  type ClusterStats,
  type ControlMessage,
  Supervisor,
  type SupervisorOptions,
  type WorkerProcess,
} from "./supervisor.ts";
export { VERSION } from "./version.ts";
export { IncomingRequest, type ProxyHeader, type ProxyTrust } from "./request.ts";
export { RequestBody } from "./body.ts";
export { HttpError, statusOf } from "./http-error.ts";
export {
  type HeaderInit,
  json,
  type Reply,
  type ReplyBody,
  StaticReply,
  type StreamBody,
  type Tail,
  text,
  withHeaders,
} from "./response.ts";
export { defaultLimits, defaultTimeouts, type Limits, type Timeouts } from "./limits.ts";
export { findHeadEnd, NEED_MORE, parseHead, RequestHead } from "./parser.ts";
export { ChunkedDecoder } from "./chunked.ts";
export { demoApp } from "./demo.ts";
export {
  contentType,
  type FileInfo,
  type FileSystem,
  type OpenFile,
  serveStatic,
  type StaticOptions,
} from "./static.ts";
export type {
  AcceptFn,
  ConnectionEvents,
  Listener,
  ListenFn,
  ListenOptions,
  RuntimeName,
  Transport,
} from "./transport.ts";
export { ListenError } from "./transport.ts";
