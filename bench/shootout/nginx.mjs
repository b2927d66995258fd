// nginx as the native reference: one worker, in the foreground, everything
// (config, pid, logs, temp dirs, the 64 KiB file) in a private temp directory
// that is removed afterwards. No system service is touched.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { bigBody } from "./client.mjs";

const HELLO = '{"hello":"world"}';

/** Make a private prefix; returns { dir, command(port), cleanup() }. */
export function nginxSetup(binary) {
  const dir = mkdtempSync(join(tmpdir(), "binks-bench-nginx-"));
  // The worker runs as an unprivileged user when started by root: let it read.
  chmodSync(dir, 0o755);
  const www = join(dir, "www");
  mkdirSync(www, { mode: 0o755 });
  writeFileSync(join(www, "64k"), bigBody(), { mode: 0o644 });
  const command = (port) => {
    const conf = join(dir, `nginx-${port}.conf`);
    writeFileSync(conf, config(dir, www, port));
    return [binary, ["-p", dir, "-c", conf, "-e", join(dir, "error.log")]];
  };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return { dir, command, cleanup };
}

function config(dir, www, port) {
  return `# Written by bench/shootout/nginx.mjs for one benchmark run.
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid ${join(dir, `nginx-${port}.pid`)};
error_log ${join(dir, "error.log")} warn;

events {
  worker_connections 4096;
}

http {
  access_log off;
  server_tokens off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  client_body_temp_path ${join(dir, "client_body")};
  proxy_temp_path ${join(dir, "proxy")};
  fastcgi_temp_path ${join(dir, "fastcgi")};
  uwsgi_temp_path ${join(dir, "uwsgi")};
  scgi_temp_path ${join(dir, "scgi")};

  server {
    listen 127.0.0.1:${port} backlog=4096;

    location = / {
      default_type application/json;
      return 200 '${HELLO}';
    }

    location = /64k {
      default_type application/octet-stream;
      alias ${join(www, "64k")};
    }
  }
}
`;
}
