// Building the fasthttp peer: Debian ships fasthttp's source under
// /usr/share/gocode (golang-github-valyala-fasthttp-dev), so the Go toolchain
// builds it in GOPATH mode, with no module download and no network. The binary
// and Go's build cache go to .cache/bench/ (git-ignored); it is rebuilt when
// main.go is newer.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

import { lastLine } from "../apt.mjs";
import { runToEnd, which } from "../proc.mjs";

/** Where Debian's Go packages put their source (a GOPATH). */
const DEBIAN_GOPATH = "/usr/share/gocode";

/** The binary's path once built. */
export function fasthttpBinary(root) {
  return join(root, ".cache", "bench", "fasthttp-hello");
}

/** Build the binary when missing or stale; resolves to null or why it cannot be built. */
export async function buildFasthttp(root) {
  const go = which("go");
  if (go === null) return "go is not installed (Debian golang-go)";
  if (!existsSync(join(DEBIAN_GOPATH, "src", "github.com", "valyala", "fasthttp"))) {
    return `fasthttp's source is not in ${DEBIAN_GOPATH} (Debian golang-github-valyala-fasthttp-dev)`;
  }
  const source = join(root, "bench", "shootout", "peers", "fasthttp", "main.go");
  const binary = fasthttpBinary(root);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return null;
  const cache = join(root, ".cache", "bench");
  mkdirSync(join(cache, "gopath"), { recursive: true });
  const r = await runToEnd(go, ["build", "-o", binary, source], {
    cwd: root,
    timeoutMs: 300_000,
    env: {
      GO111MODULE: "off",
      // Debian's source first; a private, writable entry after it for Go's own use.
      GOPATH: `${DEBIAN_GOPATH}:${join(cache, "gopath")}`,
      GOCACHE: join(cache, "go-build"),
      GOPROXY: "off",
      GOFLAGS: "",
      CGO_ENABLED: "0",
    },
  });
  if (r.code !== 0) return `go build failed: ${lastLine(r.err || r.out)}`;
  return null;
}
