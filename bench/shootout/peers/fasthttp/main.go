// fasthttp as one of the seed's peers: GET / answers {"hello":"world"}, POST
// /echo sends the body back, GET /64k sends 64 KiB. Built by
// bench/shootout/peers/fasthttp.mjs from Debian's packaged source (GOPATH mode,
// no network) and run with GOMAXPROCS=1, pinned to one CPU.
//
//	fasthttp-hello --port P --host 127.0.0.1
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/valyala/fasthttp"
)

var (
	hello  = []byte(`{"hello":"world"}`)
	big    = bytes.Repeat([]byte("0123456789abcdef"), 4096)
	octets = "application/octet-stream"
)

func handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/":
		ctx.SetContentType("application/json")
		ctx.SetBody(hello)
	case "/64k":
		ctx.SetContentType(octets)
		ctx.SetBody(big)
	case "/echo":
		if !ctx.IsPost() {
			ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
			return
		}
		if t := ctx.Request.Header.ContentType(); len(t) > 0 {
			ctx.SetContentTypeBytes(t)
		} else {
			ctx.SetContentType(octets)
		}
		ctx.SetBody(ctx.PostBody())
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

func main() {
	port := flag.Int("port", 8080, "port to listen on")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected argument %q (use --port N --host ADDR)\n", flag.Arg(0))
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening: fasthttp on port %d\n", *port)
	// Defaults otherwise, as fasthttp's own benchmarks run it.
	server := &fasthttp.Server{Handler: handle, Name: "fasthttp"}
	log.Fatal(server.Serve(ln))
}
