// REST client: the anonymous identity (token kept in localStorage) and every /api call.

const TOKEN_KEY = "ballsy.token";

/** An error answered by the API: a stable code plus a message for people. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function readStored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the identity lasts for this page only
  }
}

function writeStored(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}

/**
 * A token handed over in the address (`/#token=…`, printed by `ballsy users issue-token`
 * for people bringing their data from the prototype). It is taken out of the address at
 * once, so it is not left in the history or shared by copying the link.
 */
function claimedToken() {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]{16,200})(?:&|$)/.exec(window.location.hash);
  if (!match) return null;
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  return match[1];
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON: fall through to a generic message */
  }
  const code = (body && body.code) || `http_${response.status}`;
  const message =
    (body && (body.message || (typeof body.detail === "string" && body.detail))) ||
    `The server answered ${response.status}.`;
  return new ApiError(response.status, code, message, body && body.retry_after);
}

/** Talks to Ballsy's REST API with the bearer token of the anonymous identity. */
export class Api {
  constructor() {
    const claimed = claimedToken();
    if (claimed) writeStored(TOKEN_KEY, claimed);
    this.token = claimed || readStored(TOKEN_KEY);
    this.userId = null;
    this.username = null;
    this._creating = null;
  }

  /** Reuse the stored identity, or create one. Returns {created: bool}. */
  async ensureSession() {
    if (this.token) {
      try {
        const me = await this._fetch("GET", "/api/session", undefined, true);
        this.userId = me.user_id;
        this.username = me.username;
        return { created: false };
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) throw error;
      }
    }
    await this.createSession();
    return { created: true };
  }

  /** A new anonymous identity; concurrent callers share one request. */
  async createSession() {
    if (!this._creating) {
      this._creating = this._fetch("POST", "/api/session", undefined, false)
        .then((session) => {
          this.token = session.token;
          this.userId = session.user_id;
          this.username = session.username;
          writeStored(TOKEN_KEY, session.token);
        })
        .finally(() => {
          this._creating = null;
        });
    }
    return this._creating;
  }

  async _fetch(method, path, body, withAuth) {
    const headers = { Accept: "application/json" };
    if (withAuth && this.token) headers.Authorization = `Bearer ${this.token}`;
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return null;
    return response.json();
  }

  /**
   * An authenticated call; an unknown token gets a fresh identity and one retry.
   * `path` may be a function of the user id, so the retry addresses the new identity.
   */
  async request(method, path, body) {
    const resolve = () => (typeof path === "function" ? path(this.userId) : path);
    try {
      return await this._fetch(method, resolve(), body, true);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
      await this.createSession();
      return this._fetch(method, resolve(), body, true);
    }
  }

  capabilities() {
    return this._fetch("GET", "/api/capabilities", undefined, false);
  }

  async getSettings() {
    const body = await this.request("GET", (id) => `/api/settings/${id}`);
    return body.settings;
  }

  async saveSettings(patch) {
    const body = await this.request("PUT", (id) => `/api/settings/${id}`, patch);
    return body.settings;
  }

  async history(limit = 20) {
    const body = await this.request("GET", (id) => `/api/history/${id}?limit=${limit}`);
    return body.history;
  }

  newConversation() {
    return this.request("POST", "/api/conversations", {});
  }

  async conversations(limit = 30) {
    const body = await this.request("GET", `/api/conversations?limit=${limit}`);
    return body.conversations;
  }

  conversation(id) {
    return this.request("GET", `/api/conversations/${encodeURIComponent(id)}`);
  }

  continueConversation(id) {
    return this.request("POST", `/api/conversations/${encodeURIComponent(id)}/continue`, {});
  }

  deleteConversation(id) {
    return this.request("DELETE", `/api/conversations/${encodeURIComponent(id)}`);
  }

  command(command, timezone) {
    return this.request("POST", "/api/command", { command, timezone });
  }

  /** Ballsy's voice saying `text`, as a WAV file (the OpenAI-compatible speech route). */
  async speech(text, speed = 1) {
    const response = await fetch("/v1/audio/speech", {
      method: "POST",
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ input: text, response_format: "wav", speed }),
      cache: "no-store",
    });
    if (!response.ok) throw await errorFrom(response);
    return response.arrayBuffer();
  }

  voice(blob, mime) {
    const form = new FormData();
    form.append("file", blob, `speech.${extensionFor(mime)}`);
    return this.request("POST", "/api/voice", form);
  }
}

function extensionFor(mime) {
  if (!mime) return "webm";
  if (mime.includes("ogg")) return "ogg";
  if (mime.includes("mp4")) return "m4a";
  if (mime.includes("wav")) return "wav";
  return "webm";
}
