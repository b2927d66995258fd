// h2o as two of the seed's peers: the JSON served as a static file, and
// answered by an mruby handler. One thread (`num-threads: 1`), in the
// foreground (no pid file: the runner knows the pid); config, log and files live in a private temp
// directory that is removed afterwards. No system service is touched.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { bigBody } from "../client.mjs";

const HELLO = '{"hello":"world"}';
/** The file `GET /` maps to: its extension gives h2o's Content-Type, application/json. */
const INDEX = "hello.json";

/**
 * Make a private prefix; returns { dir, command(port, variant), cleanup() }.
 * `variant` is "file" or "mruby".
 */
export function h2oSetup(binary) {
  const dir = mkdtempSync(join(tmpdir(), "binks-bench-h2o-"));
  // Started by root, h2o drops to `nobody`: let that user read everything.
  chmodSync(dir, 0o755);
  const www = join(dir, "www");
  mkdirSync(www, { mode: 0o755 });
  writeFileSync(join(www, INDEX), HELLO, { mode: 0o644 });
  // No extension: h2o's default type, application/octet-stream.
  writeFileSync(join(www, "64k"), bigBody(), { mode: 0o644 });
  const command = (port, variant) => {
    const conf = join(dir, `h2o-${variant}-${port}.conf`);
    writeFileSync(conf, config(dir, www, port, variant), { mode: 0o644 });
    return [binary, ["-c", conf]];
  };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return { dir, command, cleanup };
}

function config(dir, www, port, variant) {
  const handler = variant === "mruby" ? mrubyPaths() : filePaths(www);
  return `# Written by bench/shootout/peers/h2o.mjs for one benchmark run.
num-threads: 1
max-connections: 4096
error-log: ${join(dir, "error.log")}
listen:
  host: 127.0.0.1
  port: ${port}
hosts:
  default:
    paths:
      /:
${handler}
`;
}

/** Everything under / from the files: / is the index file, /64k the big one. */
function filePaths(www) {
  return [
    `        file.dir: ${www}`,
    `        file.index: ["${INDEX}"]`,
  ].join("\n");
}

/**
 * One Rack-style handler for all three routes. The bodies are made once when
 * the handler is compiled; Content-Length is set so no answer is chunked.
 */
function mrubyPaths() {
  const ruby = `hello = '${HELLO}'
big = "0123456789abcdef" * 4096
json = { "content-type" => "application/json", "content-length" => hello.bytesize.to_s }
octets = { "content-type" => "application/octet-stream", "content-length" => big.bytesize.to_s }
Proc.new do |env|
  path = env["PATH_INFO"]
  if path == "/"
    [200, json, [hello]]
  elsif path == "/64k"
    [200, octets, [big]]
  elsif path == "/echo" && env["REQUEST_METHOD"] == "POST"
    body = env["rack.input"] ? env["rack.input"].read : ""
    type = env["CONTENT_TYPE"] || "application/octet-stream"
    [200, { "content-type" => type, "content-length" => body.bytesize.to_s }, [body]]
  else
    [404, { "content-type" => "text/plain", "content-length" => "10" }, ["not found\\n"]]
  end
end`;
  const indented = ruby.split("\n").map((l) => `          ${l}`).join("\n");
  return `        mruby.handler: |\n${indented}`;
}
