/* The REST API as the console uses it: JSON in and out (or a multipart body
   with files, whose upload reports its progress), the session cookie with
   the CSRF token on writes, and one error type for every refusal. */
export class ApiError extends Error {
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

/** The code of a refusal whose body is not ours (a proxy's HTML 413, say). */
const STATUS_CODES = { 413: "too_large", 415: "unsupported_type" };

/** The one place an answer becomes an ApiError: status, JSON body, Retry-After. */
function refusal(status, data, retryAfterHeader) {
  const retry = Number(retryAfterHeader) || null;
  const code = (data && data.code) || STATUS_CODES[status]
    || (status >= 500 ? "server_error" : "error");
  return new ApiError(status, code, data && data.detail, retry, data && data.errors);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return null;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** A random idempotency key; works on plain http too (unlike randomUUID). */
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
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
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    if (method !== "GET" && method !== "DELETE") {
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
    if (!response.ok) throw refusal(response.status, data, response.headers.get("Retry-After"));
    return { data, response };
  }

  get(path, params, signal) {
    return this.request("GET", path, { params, signal });
  }

  post(path, body) {
    return this.request("POST", path, { body });
  }

  patch(path, body) {
    return this.request("PATCH", path, { body });
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  /**
   * POST a FormData (multipart/form-data, files included) with XMLHttpRequest,
   * whose upload reports progress as fetch cannot: onProgress(sent, total).
   * Resolves to {data, status}; rejects with ApiError, or an AbortError when
   * signal aborts it.
   */
  upload(path, form, { onProgress, signal } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.url(path));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      if (onProgress) {
        xhr.upload.addEventListener("progress", (event) => {
          onProgress(event.loaded, event.lengthComputable ? event.total : null);
        });
      }
      xhr.addEventListener("load", () => {
        const type = xhr.getResponseHeader("Content-Type") || "";
        const data = type.includes("json") ? parseJson(xhr.responseText) : null;
        if (xhr.status >= 200 && xhr.status < 300) resolve({ data, status: xhr.status });
        else reject(refusal(xhr.status, data, xhr.getResponseHeader("Retry-After")));
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, "network_error", "")));
      xhr.addEventListener("abort", () => reject(new DOMException("Aborted", "AbortError")));
      if (signal) {
        if (signal.aborted) {
          reject(new DOMException("Aborted", "AbortError"));
          return;
        }
        signal.addEventListener("abort", () => xhr.abort(), { once: true });
      }
      xhr.send(form);
    });
  }
}

