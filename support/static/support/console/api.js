/* The REST API as the console uses it: JSON in and out, the session cookie
   with the CSRF token on writes, and one error type for every refusal. */
(function () {
  "use strict";

  class ApiError extends Error {
    /** status 0 means the request never got an answer (network error). */
    constructor(status, code, detail, retryAfter, errors) {
      super(detail || code);
      this.status = status;
      this.code = code;
      this.detail = detail;
      this.retryAfter = retryAfter;
      this.errors = errors || null;
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /** A random idempotency key; works on plain http too (unlike randomUUID). */
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  class Api {
    constructor(root) {
      this.root = root; // the app's mount, e.g. "/support/"
    }

    url(path, params) {
      const url = new URL(this.root + path, window.location.origin);
      for (const [name, value] of Object.entries(params || {})) {
        if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
      }
      return url;
    }

    /** Resolves to {data, response}; rejects with ApiError. */
    async request(method, path, { params, body, signal } = {}) {
      const headers = { Accept: "application/json" };
      // API data is live: never answer from the HTTP cache.
      const init = { method, headers, credentials: "same-origin", signal, cache: "no-store" };
      if (method !== "GET") {
        headers["X-CSRFToken"] = csrfToken();
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body || {});
      }
      let response;
      try {
        response = await fetch(this.url(path, params), init);
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw new ApiError(0, "network_error", String(error.message || error));
      }
      let data = null;
      const type = response.headers.get("Content-Type") || "";
      if (type.includes("json")) {
        try {
          data = await response.json();
        } catch (error) {
          data = null;
        }
      }
      if (!response.ok) {
        const retry = Number(response.headers.get("Retry-After")) || null;
        const code = (data && data.code) || (response.status >= 500 ? "server_error" : "error");
        const detail = data && data.detail;
        throw new ApiError(response.status, code, detail, retry, data && data.errors);
      }
      return { data, response };
    }

    get(path, params, signal) {
      return this.request("GET", path, { params, signal });
    }

    post(path, body) {
      return this.request("POST", path, { body });
    }
  }

  window.supportConsole = Object.assign(window.supportConsole || {}, { Api, ApiError, newKey });
})();
