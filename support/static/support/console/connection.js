/* The one place that owns the live connection: which transport, the cursor,
   reconnects and fallback. It hands every event to the page exactly once,
   in log order, whatever the transport and however often it reconnects.

   Fallback, in order: WebSocket; SSE when the upgrade is refused or nothing
   comes back (a ping is answered by a pong at once); long-poll when the SSE
   stream shows nothing (not even its "stream-open" event) within a few
   seconds, which is what a buffering proxy does. A transport that has worked
   on this page is only ever reconnected (a server restart is not a reason
   to step down); one that never worked is given up for the next. */
const LADDER = ["websocket", "sse", "longpoll"];
const PING_EVERY_MS = 25000;
const SILENCE_MS = 50000; // SSE keep-alives come every 20 s
const LONGPOLL_TIMEOUT_S = 25;
const SEEN_LIMIT = 5000;

export class LiveConnection {
  /**
   * options: api (an Api), websocketPath, cursor (where to resume), protocol
   * (the server's event types, reset type, close codes and SSE control events:
   * the page's config), onEvent(event), onReset() (reload state; returns a
   * promise, awaited before any later event is handed on), onState({transport,
   * status}), transport (force one: "websocket" | "sse" | "longpoll"),
   * probeTimeout (ms).
   */
  constructor(options) {
    this.api = options.api;
    this.websocketPath = options.websocketPath;
    this.cursor = options.cursor;
    this.protocol = options.protocol;
    this.onEvent = options.onEvent;
    this.onReset = options.onReset;
    this.onState = options.onState;
    this.forced = LADDER.includes(options.transport) ? options.transport : null;
    this.probeTimeout = options.probeTimeout || 5000;
    this.level = this.forced ? LADDER.indexOf(this.forced) : 0;
    this.worked = new Set();
    this.seen = new Set();
    this.failures = 0;
    this.current = null;
    this.stopped = false;
    // Events are handed on one after another: a reset's reload is awaited
    // before the events that follow it apply.
    this.queue = Promise.resolve();
  }

  get transport() {
    return LADDER[this.level];
  }

  start() {
    this.open();
  }

  /** The credential is gone: stop for good (the page says "signed out"). */
  stop() {
    this.stopped = true;
    this.close();
    this.setState("offline");
  }

  close() {
    if (this.current) {
      const current = this.current;
      this.current = null;
      current.close();
    }
  }

  setState(status) {
    this.onState({ transport: this.transport, status });
  }

  open() {
    if (this.stopped) return;
    this.close();
    this.setState(this.failures ? "reconnecting" : "connecting");
    const handle = { closed: false, close() {} };
    this.current = handle;
    this[this.transport](handle);
  }

  /** The transport carries events: keep it, and say so. */
  proven() {
    this.worked.add(this.transport);
    this.failures = 0;
    this.setState("live");
  }

  /** The transport failed; step down if it never worked here, else reconnect. */
  failed(handle) {
    if (handle.closed || this.stopped || this.current !== handle) return;
    handle.close();
    handle.closed = true;
    this.current = null;
    const last = this.level === LADDER.length - 1;
    if (!this.worked.has(this.transport) && !this.forced && !last) {
      this.level += 1;
      this.open();
      return;
    }
    this.retryLater();
  }

  /** Reconnect after a jittered, growing pause (0.25 s up to 10 s). */
  retryLater() {
    this.failures += 1;
    this.setState("reconnecting");
    const delay = Math.min(10000, 500 * 2 ** Math.min(this.failures - 1, 5));
    setTimeout(() => this.open(), delay * (0.5 + Math.random() / 2));
  }

  deliver(event) {
    if (!event || typeof event.event_id !== "string" || this.seen.has(event.event_id)) return;
    this.seen.add(event.event_id);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value);
    this.cursor = event.event_id;
    const reset = event.type === this.protocol.reset;
    this.queue = this.queue
      .then(() => (reset ? this.onReset() : this.onEvent(event)))
      .catch((error) => setTimeout(() => { throw error; })); // reported, the queue goes on
  }

  /** A promise that resolves once every event handed to deliver() so far has applied. */
  settled() {
    return this.queue;
  }

  /** Our cursor is unusable (expired, or not the server's): start again from now. */
  async restart() {
    const { data } = await this.api.get("events/");
    this.cursor = data.cursor;
    const reload = this.queue.then(() => this.onReset());
    this.queue = reload.catch(() => {});
    await reload;
  }

  websocket(handle) {
    const url = new URL(this.websocketPath, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    if (this.cursor) url.searchParams.set("after", this.cursor);
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this.failed(handle);
      return;
    }
    let proven = false;
    let heard = Date.now();
    let pinger = null;
    const probe = setTimeout(() => {
      if (!proven) this.failed(handle);
    }, this.probeTimeout);
    const ping = () => socket.send(JSON.stringify({ type: "ping", request_id: "console" }));
    handle.close = () => {
      clearTimeout(probe);
      clearInterval(pinger);
      socket.onclose = socket.onmessage = socket.onerror = null;
      socket.close();
    };
    socket.onopen = ping;
    socket.onmessage = (message) => {
      heard = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (!proven) {
        proven = true;
        clearTimeout(probe);
        this.proven();
        // A ping now and then finds a connection that died silently.
        pinger = setInterval(() => {
          if (Date.now() - heard > PING_EVERY_MS + this.probeTimeout) {
            this.failed(handle);
          } else {
            ping();
          }
        }, PING_EVERY_MS);
      }
      if (frame.event_id) this.deliver(frame);
    };
    socket.onclose = (closed) => {
      clearTimeout(probe);
      clearInterval(pinger);
      if (handle.closed || this.current !== handle) return;
      if (closed.code === this.protocol.close.revoked) {
        this.stop();
      } else if (closed.code === this.protocol.close.bad_cursor) {
        handle.closed = true;
        this.current = null;
        this.restart().then(() => this.open(), () => this.retryLater());
      } else {
        this.failed(handle);
      }
    };
  }

  sse(handle) {
    const source = new EventSource(this.api.url("events/stream/", { after: this.cursor }));
    let proven = false;
    let heard = Date.now();
    const probe = setTimeout(() => {
      if (!proven) this.failed(handle);
    }, this.probeTimeout);
    const watchdog = setInterval(() => {
      if (proven && Date.now() - heard > SILENCE_MS) this.failed(handle);
    }, 5000);
    handle.close = () => {
      clearTimeout(probe);
      clearInterval(watchdog);
      source.close();
    };
    const alive = () => {
      heard = Date.now();
      if (!proven) {
        proven = true;
        clearTimeout(probe);
        this.proven();
      }
    };
    source.addEventListener(this.protocol.sse.open, alive);
    source.addEventListener(this.protocol.sse.keep_alive, alive);
    for (const type of [...this.protocol.events_all, this.protocol.reset]) {
      source.addEventListener(type, (message) => {
        alive();
        try {
          this.deliver(JSON.parse(message.data));
        } catch (error) {
          /* not JSON: nothing to apply */
        }
      });
    }
    source.addEventListener(this.protocol.sse.error, (message) => {
      let condition = "";
      try {
        condition = JSON.parse(message.data).condition;
      } catch (error) {
        /* keep "" */
      }
      if (condition === "forbidden" || condition === "unauthorized") {
        this.stop();
      } else {
        this.failed(handle);
      }
    });
    // The browser would reconnect by itself, but with its own Last-Event-ID;
    // we reconnect with our cursor instead.
    source.onerror = () => this.failed(handle);
  }

  async longpoll(handle) {
    const controller = new AbortController();
    handle.close = () => {
      handle.closed = true;
      controller.abort();
    };
    let proven = false;
    while (!handle.closed) {
      const timer = setTimeout(() => controller.abort(), (LONGPOLL_TIMEOUT_S + 15) * 1000);
      try {
        // The first poll answers at once (timeout 0): it proves the way through.
        const timeout = proven ? LONGPOLL_TIMEOUT_S : 0;
        const { data } = await this.api.get(
          "events/", { after: this.cursor, timeout }, controller.signal,
        );
        if (!proven) {
          proven = true;
          this.proven();
        }
        for (const event of data.events) this.deliver(event);
      } catch (error) {
        if (handle.closed && this.current !== handle) return;
        const status = error.status;
        if (status === 401 || status === 403) {
          this.stop();
          return;
        }
        if (error.code === "cursor_expired" || error.code === "invalid_cursor") {
          try {
            await this.restart();
            continue;
          } catch (again) {
            /* fall through to a reconnect */
          }
        }
        this.failed(handle);
        return;
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

