/**
 * nginx as a reverse proxy in front of binks, for the proxy test and the
 * scale-out script (`npm run scaleout`, which imports the compiled file).
 *
 * @module
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What varies between the proxies. */
export interface ProxyOptions {
  /** The port nginx listens on, on 127.0.0.1. */
  port: number;
  /** The upstream's `server` lines, without the `server` word: `127.0.0.1:8080 max_fails=1`. */
  upstreams: string[];
  /** Idle connections to binks that nginx keeps open. */
  keepalive: number;
  /** Connections one nginx worker takes. */
  workerConnections: number;
  /** More directives for the `server` block. */
  server?: string[];
  /** More directives for `location /`. */
  location?: string[];
}

/**
 * A private prefix directory holding `nginx.conf`; run nginx with
 * `-c <dir>/nginx.conf -p <dir>`, and remove the directory afterwards.
 */
export function writeProxyConfig(options: ProxyOptions): string {
  const dir = mkdtempSync(join(tmpdir(), "binks-nginx-"));
  // nginx's workers drop root for nobody: they must be able to write their temp files.
  chmodSync(dir, 0o755);
  const temps = ["body", "proxy", "fastcgi", "uwsgi", "scgi"];
  for (const d of temps) {
    mkdirSync(join(dir, d));
    chmodSync(join(dir, d), 0o777);
  }
  const lines = (list: string[] | undefined, indent: string) =>
    (list ?? []).map((l) => `${indent}${l}\n`).join("");
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections ${options.workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream binks {
${lines(options.upstreams.map((u) => `server ${u};`), "    ")}    keepalive ${options.keepalive};
  }
  server {
    listen 127.0.0.1:${options.port};
${lines(options.server, "    ")}    location / {
      proxy_pass http://binks;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
${lines(options.location, "      ")}    }
  }
}
`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  return dir;
}
