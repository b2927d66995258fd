/**
 * Raw requests for the differential test: the shapes request smuggling is
 * made of (CL/TE conflicts, odd Transfer-Encoding spellings, whitespace and
 * case tricks, duplicate fields, bare CR/LF, chunk-size edge cases, NUL and
 * high bytes, obs-fold, absolute-form targets, HTTP/1.0 keep-alive), each
 * usually followed by a probe request, and byte-level mutations of them. All
 * drawn from a seeded generator, so a seed names a run.
 */

/** A small deterministic PRNG (xorshift32), so that a seed reproduces a run everywhere. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
    for (let i = 0; i < 4; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
}

/** One case: a name, the family it came from, and the bytes (as a Latin-1 string). */
export interface Case {
  id: number;
  family: string;
  what: string;
  wire: string;
}

/** A request both servers answer with what they parsed; its presence shows framing. */
export const PROBE = "GET /inspect?probe HTTP/1.1\r\nHost: probe\r\n\r\n";

const H = "Host: x\r\n";

function post(fields: string, body: string, target = "/inspect"): string {
  return `POST ${target} HTTP/1.1\r\n${H}${fields}\r\n${body}`;
}

const TE_VALUES = [
  "chunked",
  "Chunked",
  "CHUNKED",
  "chunked ",
  " chunked",
  "\tchunked",
  "chunked\t",
  "chunked, chunked",
  "chunked,chunked",
  "x-chunked",
  "chunked-x",
  "chunked, identity",
  "identity, chunked",
  "gzip, chunked",
  "chunked;q=1",
  "chunk",
  "chunke",
  '"chunked"',
  ",chunked",
  "chunked,",
  "chunked , ",
  "ch unked",
  "chunked\x00",
  "chunked\x0b",
  "chunked\xff",
  "\xffchunked",
];

const TE_NAMES = [
  "Transfer-Encoding",
  "transfer-encoding",
  "TRANSFER-ENCODING",
  "Transfer-encoding",
  "Transfer-Encoding ",
  "Transfer-Encoding\t",
  "Transfer_Encoding",
  " Transfer-Encoding",
  "Transfer-Encodings",
  "X-Transfer-Encoding",
];

const CL_VALUES = [
  "3",
  "03",
  "0000000000000003",
  "+3",
  "-3",
  "3 ",
  " 3",
  "\t3",
  "3,3",
  "3, 3",
  "3, 4",
  "0x3",
  "3.0",
  "3e0",
  "",
  "three",
  "999999999999999999999",
  "3\x00",
  "\xff3",
];

const CL_NAMES = ["Content-Length", "content-length", "CONTENT-LENGTH", "Content-Length "];

/** A chunked body for "abc", with a chunk-size line of the given form. */
function chunked(size: string, last = "0", trailer = ""): string {
  return `${size}\r\nabc\r\n${last}\r\n${trailer}\r\n`;
}

const CHUNK_SIZES = [
  "3",
  "03",
  "00000000000003",
  "000000000000003",
  "3 ",
  " 3",
  "3;ext",
  "3 ;ext",
  "3\t;ext",
  "3;ext=val",
  '3;ext="a b"',
  '3;ext="a\\"b"',
  "3;",
  "3;\x80",
  "3;a\x00",
  "0x3",
  "+3",
  "-3",
  "3\x00",
  "fffffffffffffffffffff3",
  "3_",
  "3\x0b",
];

const LAST_CHUNKS = ["0", "00", "0;x", "0 ", "000000000000000000", "0x0", "1"];

const TRAILERS = [
  "",
  "X-T: 1\r\n",
  "Content-Length: 10\r\n",
  "Transfer-Encoding: chunked\r\n",
  "X-T : 1\r\n",
  " X-T: 1\r\n",
  "X-T: 1\r\n folded\r\n",
  "X-T: \x00\r\n",
];

/** Families: each draws one payload (before the optional probe). */
const FAMILIES: Record<string, (r: Rng) => [string, string]> = {
  "cl-te": (r) => {
    const te = `${r.pick(TE_NAMES.slice(0, 4))}: ${r.pick(TE_VALUES.slice(0, 10))}\r\n`;
    const cl = `${r.pick(CL_NAMES)}: ${r.pick(["3", "5", "0", "8", "13"])}\r\n`;
    const body = r.pick([
      chunked("3"),
      "0\r\n\r\n",
      "5\r\nabcde\r\n0\r\n\r\nGET /inspect?smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    ]);
    return ["CL and TE together", post(r.chance(0.5) ? te + cl : cl + te, body)];
  },
  "te-spelling": (r) => {
    const name = r.pick(TE_NAMES);
    const value = r.pick(TE_VALUES);
    return [
      `${JSON.stringify(name)}: ${JSON.stringify(value)}`,
      post(`${name}:${r.pick(["", " "])}${value}\r\n`, chunked("3")),
    ];
  },
  "te-split": (r) => {
    const [a, b] = r.pick([
      ["chunked", "chunked"],
      ["gzip", "chunked"],
      ["chunked", "gzip"],
      ["chunked", ""],
      ["", "chunked"],
      ["identity", "chunked"],
    ]);
    return [
      `TE over two fields: ${a} / ${b}`,
      post(`Transfer-Encoding: ${a}\r\nTransfer-Encoding: ${b}\r\n`, chunked("3")),
    ];
  },
  "cl-variants": (r) => {
    const name = r.pick(CL_NAMES);
    const value = r.pick(CL_VALUES);
    const twice = r.chance(0.3) ? `Content-Length: ${r.pick(["3", "4", "03"])}\r\n` : "";
    return [
      `${JSON.stringify(name)}: ${JSON.stringify(value)}${twice ? " twice" : ""}`,
      post(`${name}:${r.pick(["", " "])}${value}\r\n${twice}`, "abc"),
    ];
  },
  "duplicates": (r) => {
    const field = r.pick([
      "Host: x\r\n",
      "Host: y\r\n",
      "Content-Length: 3\r\n",
      "Connection: close\r\n",
      "Connection: keep-alive\r\n",
      "Expect: 100-continue\r\n",
      "Transfer-Encoding: chunked\r\n",
    ]);
    const body = field.startsWith("Transfer") ? chunked("3") : "abc";
    const cl = field.startsWith("Transfer") ? "" : "Content-Length: 3\r\n";
    return [`duplicate ${JSON.stringify(field.trim())}`, post(`${cl}${field}`, body)];
  },
  "line-ends": (r) => {
    const lines = ["POST /inspect HTTP/1.1", "Host: x", "X-A: 1", "Content-Length: 3", ""];
    const seps = lines.map(() => "\r\n");
    const at = r.int(lines.length);
    const sep = r.pick(["\n", "\r", "\r\r\n", "\n\r", "\r\n\r", " \r\n", "\t\r\n"]);
    seps[at] = sep;
    return [
      `line ${at} ends in ${JSON.stringify(sep)}`,
      lines.map((l, i) => l + seps[i]).join("") + "abc",
    ];
  },
  "chunk-size": (r) => {
    const size = r.pick(CHUNK_SIZES);
    return [
      `chunk size ${JSON.stringify(size)}`,
      post("Transfer-Encoding: chunked\r\n", chunked(size, r.pick(LAST_CHUNKS.slice(0, 3)))),
    ];
  },
  "chunk-end": (r) => {
    const last = r.pick(LAST_CHUNKS);
    const trailer = r.pick(TRAILERS);
    const after = r.pick(["\r\n", "\n", "", "\r\n\r\n"]);
    const body = `3\r\nabc\r\n${last}\r\n${trailer}${after}`;
    return [
      `last chunk ${JSON.stringify(last)}, trailer ${JSON.stringify(trailer)}, then ${
        JSON.stringify(after)
      }`,
      post("Transfer-Encoding: chunked\r\n", body),
    ];
  },
  "chunk-data": (r) => {
    const data = r.pick([
      "abc\r\n",
      "abcd\r\n",
      "ab\r\n",
      "abc\n",
      "abc\r",
      "abc",
      "abc\r\r\n",
      "abc  \r\n",
    ]);
    return [
      `chunk data ${JSON.stringify(data)}`,
      post("Transfer-Encoding: chunked\r\n", `3\r\n${data}0\r\n\r\n`),
    ];
  },
  "bytes": (r) => {
    const b = r.pick(["\x00", "\x01", "\x7f", "\x80", "\xa0", "\xff", "\x0b", "\x0c", "\x1b"]);
    const where = r.int(5);
    const name = where === 3 ? `X${b}A` : "X-A";
    const value = where === 4 ? `a${b}b` : "ab";
    const method = where === 0 ? `GE${b}T` : "GET";
    const target = where === 1 ? `/inspect?${b}` : "/inspect";
    const version = where === 2 ? `HTTP/1.1${b}` : "HTTP/1.1";
    return [
      `byte ${b.charCodeAt(0).toString(16)} in part ${where}`,
      `${method} ${target} ${version}\r\n${H}${name}: ${value}\r\n\r\n`,
    ];
  },
  "obs-fold": (r) => {
    const fold = r.pick(["\r\n ", "\r\n\t", "\r\n  \t "]);
    const field = r.pick([
      `X-A: 1${fold}2\r\n`,
      `Transfer-Encoding: chunked${fold}x\r\n`,
      `Content-Length: 3${fold}\r\n`,
    ]);
    const body = field.startsWith("Transfer")
      ? chunked("3")
      : field.startsWith("Content")
      ? "abc"
      : "";
    return [`obs-fold in ${JSON.stringify(field.slice(0, 6))}`, post(field, body)];
  },
  "whitespace": (r) => {
    const v = r.pick([
      "POST  /inspect HTTP/1.1\r\n",
      "POST /inspect  HTTP/1.1\r\n",
      "POST /inspect HTTP/1.1 \r\n",
      "POST\t/inspect HTTP/1.1\r\n",
      " POST /inspect HTTP/1.1\r\n",
      "post /inspect HTTP/1.1\r\n",
      "POST /inspect http/1.1\r\n",
      "POST /inspect HTTP/1.01\r\n",
      "POST /inspect HTTP/1.10\r\n",
      "POST /inspect HTTP/01.1\r\n",
      "POST /inspect HTTP /1.1\r\n",
      "POST /inspect\r\n",
    ]);
    const field = r.pick([
      "Content-Length: 3\r\n",
      "Content-Length : 3\r\n",
      "Content-Length:3\r\n",
      " Content-Length: 3\r\n",
      "Content-Length:\t3\t\r\n",
    ]);
    return [
      `${JSON.stringify(v.trim())} with ${JSON.stringify(field.trim())}`,
      `${v}${H}${field}\r\nabc`,
    ];
  },
  "target": (r) => {
    const line = r.pick([
      "GET http://x/inspect HTTP/1.1",
      "GET HTTP://x/inspect HTTP/1.1",
      "GET http://x HTTP/1.1",
      "GET https://y:443/inspect?a=1 HTTP/1.1",
      "GET ftp://x/inspect HTTP/1.1",
      "GET //inspect HTTP/1.1",
      "GET * HTTP/1.1",
      "OPTIONS * HTTP/1.1",
      "GET inspect HTTP/1.1",
      "GET /inspect#frag HTTP/1.1",
      "GET /insp%65ct HTTP/1.1",
      "CONNECT x:443 HTTP/1.1",
      "CONNECT /inspect HTTP/1.1",
      'GET /inspect?a="b" HTTP/1.1',
      "GET /inspect?a=<b> HTTP/1.1",
      "GET /inspect?a=\\b HTTP/1.1",
      "GET /inspect?{} HTTP/1.1",
    ]);
    return [JSON.stringify(line), `${line}\r\n${H}\r\n`];
  },
  "http10": (r) => {
    const conn = r.pick([
      "",
      "Connection: keep-alive\r\n",
      "Connection: Keep-Alive\r\n",
      "Connection: close\r\n",
      "Connection: keep-alive, close\r\n",
      "Connection: keepalive\r\n",
      "Keep-Alive: 1\r\n",
    ]);
    const body = r.pick([["", ""], ["Content-Length: 3\r\n", "abc"], [
      "Transfer-Encoding: chunked\r\n",
      chunked("3"),
    ]]);
    const host = r.chance(0.5) ? H : "";
    const one = `POST /inspect HTTP/1.0\r\n${host}${conn}${body[0]}\r\n${body[1]}`;
    return [
      `HTTP/1.0 ${JSON.stringify(conn.trim())} ${JSON.stringify(body[0].trim())}`,
      r.chance(0.5) ? one + one : one,
    ];
  },
  "host": (r) => {
    const hosts = r.pick([
      "",
      "Host: x\r\nHost: x\r\n",
      "Host:\r\n",
      "Host: a b\r\n",
      "Host: x\r\nhost: y\r\n",
      "Host : x\r\n",
      "Host: x:99999\r\n",
      "Host: [::1]\r\n",
    ]);
    return [`hosts ${JSON.stringify(hosts)}`, `GET /inspect HTTP/1.1\r\n${hosts}\r\n`];
  },
  "expect": (r) => {
    const e = r.pick([
      "100-continue",
      "100-Continue",
      "100-continue, x",
      "200-ok",
      "",
      "100-continued",
    ]);
    return [`Expect: ${JSON.stringify(e)}`, post(`Expect: ${e}\r\nContent-Length: 3\r\n`, "abc")];
  },
  "methods": (r) => {
    const m = r.pick([
      "M-SEARCH",
      "PURGE",
      "FOO",
      "get",
      "G-E-T",
      "PROPFIND",
      "QUERY",
      "PRI",
      "SOURCE",
      "TRACE",
      "LINK",
    ]);
    return [`method ${m}`, `${m} /inspect HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`];
  },
  "headers": (r) => {
    const f = r.pick([
      "X-A: \t a b \t\r\n",
      "X-A:\r\n",
      "X-A: caf\xe9\r\n",
      "X-A: \xff\xfe\r\n",
      "X-A: \x80\r\n",
      ":\r\n",
      ": x\r\n",
      "X-A\r\n",
      "X(A): 1\r\n",
      'X"A: 1\r\n',
      "X-A:: 1\r\n",
      "X-A: a:b\r\n",
      "X-\xe9: 1\r\n",
      "X-A: \x7f\r\n",
    ]);
    return [`field ${JSON.stringify(f.trimEnd())}`, `GET /inspect HTTP/1.1\r\n${H}${f}\r\n`];
  },
};

/** The named, hand-written families. */
export const FAMILY_NAMES: readonly string[] = Object.keys(FAMILIES);

/** Byte-level mutation of a payload: the odd bytes no family thought of. */
function mutateWire(r: Rng, wire: string): [string, string] {
  let w = wire;
  const edits: string[] = [];
  const n = 1 + r.int(3);
  for (let k = 0; k < n; k++) {
    const at = r.int(w.length + 1);
    const op = r.int(4);
    if (op === 0) {
      const b = r.pick(["\r", "\n", " ", "\t", "\x00", "\xff", ":", ";", ",", "0", "a", "\r\n"]);
      w = w.slice(0, at) + b + w.slice(at);
      edits.push(`+${JSON.stringify(b)}@${at}`);
    } else if (op === 1) {
      w = w.slice(0, at) + w.slice(at + 1);
      edits.push(`-@${at}`);
    } else if (op === 2 && at < w.length) {
      const c = String.fromCharCode(w.charCodeAt(at) ^ (1 << r.int(8)));
      w = w.slice(0, at) + c + w.slice(at + 1);
      edits.push(`^@${at}`);
    } else {
      const len = 1 + r.int(12);
      w = w.slice(0, at) + w.slice(at, at + len) + w.slice(at);
      edits.push(`dup${len}@${at}`);
    }
  }
  return [edits.join(" "), w];
}

/** `count` cases from `seed`: one family in four is mutated; most get a probe behind them. */
export function generate(seed: number, count: number): Case[] {
  const r = new Rng(seed);
  const cases: Case[] = [];
  for (let id = 0; id < count; id++) {
    const family = r.pick(FAMILY_NAMES);
    let [what, wire] = FAMILIES[family]!(r);
    let name = family;
    if (r.chance(0.25)) {
      const [edits, mutated] = mutateWire(r, wire);
      what = `${what}; mutated ${edits}`;
      wire = mutated;
      name = `${family}+mut`;
    }
    if (r.chance(0.8)) wire += PROBE;
    cases.push({ id, family: name, what, wire });
  }
  return cases;
}
