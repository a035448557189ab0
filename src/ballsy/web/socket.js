// The voice WebSocket: hello handshake, keep-alive, and reconnection with backoff and jitter.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const PING_EVERY_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const HELLO_TIMEOUT_MS = 8_000;

function randomId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to 10 s, ±25 % jitter. */
export function backoffDelay(attempt) {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * One WebSocket per tab, reopened whenever it drops.
 *
 * States reported through onState: "connecting", "connected", "reconnecting" (with the
 * delay in ms), "offline" (the browser says there is no network).
 * `ready` is true only after the server has answered our hello.
 */
export class VoiceSocket {
  constructor({ hello, onMessage, onState, onBinary = () => {} }) {
    this.clientId = randomId();
    this.hello = hello; // () => the hello message (token and time zone read fresh each time)
    this.onMessage = onMessage;
    this.onState = onState;
    this.onBinary = onBinary; // binary frames: Ballsy's voice (see voice_player.js)
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.everConnected = false;
    this.generation = 0; // bumps on every new socket so stale events are ignored
    this._retryTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._helloTimer = null;
    this._stopped = false;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.onState("offline"));
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}/ws/voice/${encodeURIComponent(this.clientId)}`;
  }

  connect() {
    this._stopped = false;
    this._clearTimers();
    const generation = ++this.generation;
    this.ready = false;
    this.onState(this.everConnected ? "reconnecting" : "connecting", 0);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => {
      if (generation !== this.generation) return;
      ws.send(JSON.stringify(this.hello()));
      this._helloTimer = setTimeout(() => ws.close(4000, "no hello"), HELLO_TIMEOUT_MS);
    });
    ws.addEventListener("message", (event) => {
      if (generation !== this.generation) return;
      if (typeof event.data !== "string") {
        if (this.ready) this.onBinary(event.data);
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; ignore anything else
      }
      this._handle(message);
    });
    ws.addEventListener("close", (event) => {
      if (generation !== this.generation) return;
      this._dropped(event.code);
    });
    // "error" is always followed by "close"; nothing to do here.
  }

  _handle(message) {
    if (message.type === "hello") {
      clearTimeout(this._helloTimer);
      const reconnected = this.everConnected;
      this.ready = true;
      this.attempt = 0;
      this.everConnected = true;
      this._startPing();
      this.onState("connected", 0, { reconnected, userId: message.user_id });
      return;
    }
    if (message.type === "pong") {
      clearTimeout(this._pongTimer);
      return;
    }
    this.onMessage(message);
  }

  _dropped(code) {
    this.ready = false;
    this.ws = null;
    this._clearTimers();
    if (this._stopped) return;
    this.onMessage({ type: "_closed", code });
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this._stopped) return;
    if (navigator.onLine === false) {
      this.onState("offline", 0);
      return; // the "online" event reconnects
    }
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.onState("reconnecting", delay);
    this._retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect at once (the network came back, or the hello must be sent again). */
  reconnectNow() {
    this.attempt = 0;
    if (this.ws) {
      const old = this.ws;
      this.generation += 1; // ignore the old socket's close
      old.close(1000, "reconnect");
    }
    this.connect();
  }

  _startPing() {
    this._pingTimer = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this._pongTimer);
      this._pongTimer = setTimeout(() => this.ws && this.ws.close(4001, "no pong"), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  _clearTimers() {
    clearTimeout(this._retryTimer);
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    clearTimeout(this._helloTimer);
  }

  /** Send a JSON message; false when the socket is not ready. */
  send(message) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send a binary frame; false when the socket is not ready. */
  sendBinary(buffer) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(buffer);
    return true;
  }

  stop() {
    this._stopped = true;
    this._clearTimers();
    if (this.ws) this.ws.close(1000, "bye");
  }
}
