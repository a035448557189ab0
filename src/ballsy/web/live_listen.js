// One live utterance: the open microphone (ears.js) streamed to Ballsy's server as raw
// 16 kHz PCM16 over the voice socket. The server shows the words as they are heard
// ("partial"), ends the turn itself after a pause ("speech_end"), then sends the
// transcript and the reply. Protocol: api/ws_protocol.py.

import { STREAM_MIME } from "./ears.js";
import { VoiceDetector } from "./voice_activity.js";

const FRAME_CHUNKS = 5;
// A reply that ends by asking something is answered without a click.
const QUESTION = /\?["'”’)\]]*\s*$/;

/** Whether a reply ends with a question the user is expected to answer. */
export function asksQuestion(text) {
  return QUESTION.test(text || "");
}
 // 5 x 20 ms: one binary frame every 100 ms
const FULL_SCALE = 32768;

/**
 * Callbacks: onHearing() once the user's voice is heard (locally or by the server),
 * onLevel(0..1), onFailed() when the socket could not take the stream.
 * `wake`: the wake phrase, for a hands-free stream that waits for it first (the server
 * hears only the wake word in it until `woke()`; see api/wake_stream.py).
 */
export class LiveCapture {
  constructor({
    ears,
    socket,
    wake = null,
    onHearing = () => {},
    onLevel = () => {},
    onFailed = () => {},
  }) {
    this.kind = "stream";
    this.wake = wake; // the phrase while waiting for it, then null
    this.wakeStream = Boolean(wake); // opened to wait for the wake word
    this.wakeBytes = 0; // audio sent while waiting for the wake word
    this.ears = ears;
    this.socket = socket;
    this.onHearing = onHearing;
    this.onLevel = onLevel;
    this.onFailed = onFailed;
    this.generation = socket.generation;
    this.hearing = false;
    this.started = false;
    this.ended = false;
    this.stopAsked = false;
    this.sentBytes = 0;
    this._pending = [];
    this._detector = new VoiceDetector();
  }

  /** Begin streaming (pre-roll first); false when the socket is not ready. */
  start() {
    const start = { type: "audio_start", mime: STREAM_MIME, stream: true };
    if (this.wake) start.wake = true;
    if (!this.socket.send(start)) return false;
    this.started = true;
    this.ears.stream((chunk) => this._chunk(chunk), (level) => this.onLevel(level));
    return true;
  }

  _chunk(chunk) {
    if (this.ended) return;
    // While waiting for the wake word a voice is no command: "Hearing you" waits for it.
    if (!this.hearing && !this.wake) {
      let sum = 0;
      for (const value of chunk) sum += (value / FULL_SCALE) ** 2;
      if (this._detector.update(Math.sqrt(sum / chunk.length), 20)) this.heard();
    }
    this._pending.push(chunk);
    if (this._pending.length >= FRAME_CHUNKS) this._flush();
  }

  _flush() {
    if (!this._pending.length) return;
    const total = this._pending.reduce((sum, chunk) => sum + chunk.length, 0);
    const frame = new Int16Array(total);
    let offset = 0;
    for (const chunk of this._pending) {
      frame.set(chunk, offset);
      offset += chunk.length;
    }
    this._pending = [];
    if (this.socket.generation !== this.generation || !this.socket.sendBinary(frame.buffer)) {
      this.end();
      this.onFailed();
      return;
    }
    this.sentBytes += frame.byteLength;
    if (this.wake) this.wakeBytes += frame.byteLength;
  }

  /** The server heard the wake word: what follows is the command. */
  woke() {
    this.wake = null;
    this._detector = new VoiceDetector();
  }

  /** The user's voice is heard: say so once. */
  heard() {
    if (this.hearing) return;
    this.hearing = true;
    this.onHearing();
  }

  /** The user asked to stop (a tap, Space let go): the server ends the turn now. */
  stop() {
    if (this.ended || this.stopAsked) return;
    this.stopAsked = true;
    if (!this.started) return; // the microphone is still opening: nothing was sent
    this._flush();
    if (!this.socket.send({ type: "audio_end" })) {
      this.end();
      this.onFailed();
    }
  }

  /** Stop streaming (the server said speech_end, or the stream failed). */
  end() {
    if (this.ended) return;
    this.ended = true;
    this._pending = [];
    this.ears.unstream();
  }
}
