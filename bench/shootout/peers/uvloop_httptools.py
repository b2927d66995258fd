#!/usr/bin/python3
"""sanic's stack without sanic, as one of the seed's peers.

sanic itself is not packaged for Debian; what it runs on is: the uvloop event
loop (python3-uvloop) and the httptools parser, llhttp's Python binding
(python3-httptools). This is a plain asyncio.Protocol server on both, one
process, one thread: GET / answers {"hello":"world"}, POST /echo sends the body
back, GET /64k sends 64 KiB. With no framework on top it is an upper bound for
sanic on one worker, not sanic.

    /usr/bin/python3 uvloop_httptools.py --port P --host 127.0.0.1

Debian's packages are for Debian's Python: run it with /usr/bin/python3.
"""

import asyncio
import sys

import httptools
import uvloop

HELLO = b'{"hello":"world"}'
BIG = b"0123456789abcdef" * 4096
JSON = b"application/json"
OCTETS = b"application/octet-stream"


def response(status, content_type, body, keep_alive, http10):
    """One whole response. HTTP/1.0 keep-alive must be said (ab -k needs it)."""
    head = [
        b"HTTP/1.1 " + status,
        b"Content-Type: " + content_type,
        b"Content-Length: " + str(len(body)).encode(),
    ]
    if not keep_alive:
        head.append(b"Connection: close")
    elif http10:
        head.append(b"Connection: keep-alive")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


# The common answer, made once.
HELLO_KEEP = response(b"200 OK", JSON, HELLO, True, False)


class Connection(asyncio.Protocol):
    """One client connection: the parser calls back into it; answers go out per read."""

    __slots__ = ("transport", "parser", "url", "content_type", "body", "out", "closing")

    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.content_type = None
        self.body = []
        # Answers to the requests of one read, written together (pipelining).
        self.out = []
        self.closing = False

    # ---- parser callbacks

    def on_message_begin(self):
        self.url = b""
        self.content_type = None
        self.body = []

    def on_url(self, url):
        # May come in pieces when a request line is split across reads.
        self.url += url

    def on_header(self, name, value):
        if name.lower() == b"content-type":
            self.content_type = value

    def on_body(self, body):
        self.body.append(body)

    def on_message_complete(self):
        if self.closing:
            return  # Nothing after a request that asked to close is answered.
        keep_alive = self.parser.should_keep_alive()
        http10 = self.parser.get_http_version() == "1.0"
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        if path == b"/" and method == b"GET" and keep_alive and not http10:
            self.out.append(HELLO_KEEP)
        elif path == b"/" and method == b"GET":
            self.out.append(response(b"200 OK", JSON, HELLO, keep_alive, http10))
        elif path == b"/64k" and method == b"GET":
            self.out.append(response(b"200 OK", OCTETS, BIG, keep_alive, http10))
        elif path == b"/echo" and method == b"POST":
            body = b"".join(self.body)
            kind = self.content_type or OCTETS
            self.out.append(response(b"200 OK", kind, body, keep_alive, http10))
        else:
            self.out.append(response(b"404 Not Found", b"text/plain", b"not found\n", keep_alive, http10))
        if not keep_alive:
            self.closing = True

    # ---- transport events

    def data_received(self, data):
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if not self.closing:
                self.out.append(response(b"400 Bad Request", b"text/plain", b"bad request\n", False, False))
                self.closing = True
        if self.out:
            self.transport.write(self.out[0] if len(self.out) == 1 else b"".join(self.out))
            self.out.clear()
        if self.closing:
            self.transport.close()

    def connection_lost(self, exc):
        self.transport = None


def listen_args(argv):
    """--port N --host ADDR (defaults 8080, 127.0.0.1); anything else is an error."""
    port, host = 8080, "127.0.0.1"
    i = 0
    while i < len(argv):
        flag = argv[i]
        value = argv[i + 1] if i + 1 < len(argv) else None
        if flag == "--port" and value is not None and value.isdigit():
            port = int(value)
        elif flag == "--host" and value is not None:
            host = value
        else:
            sys.exit(f"unexpected argument {flag!r} (use --port N --host ADDR)")
        i += 2
    return port, host


async def main():
    port, host = listen_args(sys.argv[1:])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, host, port, backlog=4096, reuse_address=True)
    print(f"listening: uvloop + httptools on port {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main())
