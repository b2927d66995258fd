/**
 * A small REST-style JSON API: params, bodies, status codes, middleware.
 *
 *   deno run --allow-net examples/rest.ts
 *   bun run examples/rest.ts
 *   node dist/examples/rest.js      (after npm run build)
 */
import { json, Router, serve } from "../mod.ts";

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

const todos = new Map<number, Todo>();
let nextId = 1;

const api = new Router()
  .use((req, next) => {
    // Read from the request now: once a handler has returned synchronously, the request is
    // gone (it was a view of the read buffer), and the log line below comes later.
    const { method, url } = req;
    const started = Date.now();
    const out = next();
    Promise.resolve(out).then(() => console.log(`${method} ${url} ${Date.now() - started} ms`));
    return out;
  })
  .get("/todos", () => json([...todos.values()]))
  .get("/todos/:id", (req) => {
    const todo = todos.get(Number(req.params.id));
    return todo ? json(todo) : json({ error: "not found" }, 404);
  })
  .post("/todos", async (req) => {
    const input = await req.json().catch(() => null) as { title?: unknown } | null;
    if (typeof input?.title !== "string") return json({ error: "title (string) required" }, 422);
    const todo = { id: nextId++, title: input.title, done: false };
    todos.set(todo.id, todo);
    return json(todo, 201, { Location: `/api/todos/${todo.id}` });
  })
  .patch("/todos/:id", async (req) => {
    const todo = todos.get(Number(req.params.id));
    if (!todo) return json({ error: "not found" }, 404);
    const input = await req.json().catch(() => ({})) as { done?: unknown };
    if (typeof input.done === "boolean") todo.done = input.done;
    return json(todo);
  })
  .delete(
    "/todos/:id",
    (req) =>
      todos.delete(Number(req.params.id)) ? { status: 204 } : json({ error: "not found" }, 404),
  );

const app = new Router().mount("/api", api);

const server = await serve({ port: 3001, hostname: "127.0.0.1", handler: app.handler });
console.log(`REST API on http://127.0.0.1:${server.port}/api/todos (${server.runtime})`);
