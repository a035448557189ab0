// Ballsy's own voice: plays the server's sentences (16-bit PCM over the WebSocket)
// back to back with Web Audio, and says how far it got when stopped (barge-in).
//
// Each sentence arrives as voice_start, binary frames, voice_end; it is scheduled to
// start exactly when the one before it ends, so there are no gaps between sentences.

/** The saved voice for Ballsy's own (the server's) and for the browser's default voice. */
export const BALLSY_VOICE = "ballsy";
export const BROWSER_DEFAULT = "default";

/**
 * Which voice to speak with, given the saved choice, the voices this device has and
 * whether the server offers Ballsy's voice. Never a voice this device does not have:
 * a saved voice missing here (another device's, or the old default "Daniel") means the
 * default, which is Ballsy's voice where available, else the browser's default.
 */
export function effectiveVoice(saved, deviceVoices, ballsyAvailable) {
  if (saved === BALLSY_VOICE) return ballsyAvailable ? BALLSY_VOICE : BROWSER_DEFAULT;
  if (saved === BROWSER_DEFAULT) return BROWSER_DEFAULT;
  if (saved && deviceVoices.some((voice) => voice.name === saved)) return saved;
  return ballsyAvailable ? BALLSY_VOICE : BROWSER_DEFAULT;
}

/** Float samples in [-1, 1) from 16-bit little-endian PCM. */
function floatSamples(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i += 1) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

export class VoicePlayer {
  constructor({ onChange, onFallback }) {
    this.onChange = onChange; // (speaking) => void
    this.onFallback = onFallback; // (text, turnId) => void: speak this with the browser
    this.context = null;
    this.incoming = null; // {turnId, seq, text, sampleRate, chunks: []}
    this.scheduled = []; // {turnId, seq, startAt, duration, source}
    this.turnId = null; // the turn being played; anything from another turn is dropped
    this.nextAt = 0;
    this.pendingFallback = null;
    this.open = false; // the server is still sending this reply's voice (until voice_done)
    this.lastSeq = -1; // the last sentence scheduled
    this.stopped = new Set(); // turns stopped here: their audio still in flight is dropped
    this.log = []; // {turnId, seq, text, seconds, at}: what was played, for tests and debugging
    this._endTimer = null;
  }

  /** Create (or wake) the audio context; call from a user gesture where possible. */
  unlock() {
    if (!this.context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return false;
      this.context = new Context();
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return true;
  }

  get speaking() {
    return this.open || this.scheduled.length > 0 || this.pendingFallback !== null;
  }

  /** A new reply: drop anything left of an older one. */
  begin(turnId) {
    if (this.turnId !== turnId) this.stop();
    this.turnId = turnId;
  }

  start(message) {
    if (this.stopped.has(message.turn_id)) return;
    if (this.turnId !== null && message.turn_id !== this.turnId) return;
    const wasSpeaking = this.speaking;
    this.turnId = message.turn_id;
    this.open = true;
    if (!wasSpeaking) this.onChange(true);
    this.incoming = {
      turnId: message.turn_id,
      seq: message.seq,
      text: message.text || "",
      sampleRate: message.sample_rate,
      chunks: [],
    };
  }

  chunk(buffer) {
    if (this.incoming) this.incoming.chunks.push(new Uint8Array(buffer));
  }

  end(message) {
    const sentence = this.incoming;
    this.incoming = null;
    if (!sentence || sentence.seq !== message.seq || !this.unlock()) return;
    const size = sentence.chunks.reduce((total, part) => total + part.byteLength, 0);
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const part of sentence.chunks) {
      bytes.set(part, offset);
      offset += part.byteLength;
    }
    const samples = floatSamples(bytes);
    if (!samples.length) return;
    const buffer = this.context.createBuffer(1, samples.length, sentence.sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const startAt = Math.max(this.context.currentTime + 0.02, this.nextAt);
    source.start(startAt);
    this.nextAt = startAt + buffer.duration;
    this.lastSeq = sentence.seq;
    const entry = { turnId: sentence.turnId, seq: sentence.seq, startAt, duration: buffer.duration, source };
    this.scheduled.push(entry);
    this.log.push({ turnId: sentence.turnId, seq: sentence.seq, text: sentence.text, seconds: buffer.duration, at: performance.now() });
    source.addEventListener("ended", () => this._ended(entry));
  }

  /** The server sent the reply's last sentence. */
  done(message) {
    if (message.turn_id !== this.turnId) return;
    this.open = false;
    if (!this.speaking) this.onChange(false);
  }

  /** The server's voice could not go on: the rest is spoken by the browser, after the audio. */
  fallback(message) {
    if (this.stopped.has(message.turn_id)) return;
    if (this.turnId !== null && message.turn_id !== this.turnId) return;
    this.pendingFallback = { text: message.text || "", turnId: message.turn_id };
    this.open = false;
    if (!this.scheduled.length) this._flushFallback();
    if (!this.speaking) this.onChange(false);
  }

  _ended(entry) {
    const index = this.scheduled.indexOf(entry);
    if (index < 0) return;
    this.scheduled.splice(index, 1);
    if (!this.scheduled.length) {
      this._flushFallback();
      if (!this.speaking) this.onChange(false);
    }
  }

  _flushFallback() {
    const pending = this.pendingFallback;
    this.pendingFallback = null;
    if (pending && pending.text) this.onFallback(pending.text, pending.turnId);
  }

  /**
   * Stop at once. Returns how far the current reply got, {turn_id, seq, seconds}: every
   * sentence before `seq` was heard whole, and `seconds` of sentence `seq`; null when
   * nothing of it was being played.
   */
  stop() {
    const turnId = this.turnId;
    const now = this.context ? this.context.currentTime : 0;
    let report = null;
    if (turnId !== null && (this.open || this.scheduled.length)) {
      const playing = this.scheduled.find((entry) => now < entry.startAt + entry.duration);
      if (playing) {
        report = { turn_id: turnId, seq: playing.seq, seconds: Math.max(0, now - playing.startAt) };
      } else {
        // Between sentences: all scheduled ones were heard, the next was not.
        report = { turn_id: turnId, seq: this.lastSeq + 1, seconds: 0 };
      }
    }
    const wasSpeaking = this.speaking;
    if (turnId !== null) {
      this.stopped.add(turnId);
      if (this.stopped.size > 50) this.stopped.delete(this.stopped.values().next().value);
    }
    for (const entry of this.scheduled) {
      try {
        entry.source.stop();
      } catch {
        /* already stopped */
      }
    }
    this.scheduled = [];
    this.incoming = null;
    this.pendingFallback = null;
    this.open = false;
    this.lastSeq = -1;
    this.nextAt = 0;
    this.turnId = null;
    if (wasSpeaking) this.onChange(false);
    return report;
  }

  /** Play a whole WAV file (the settings' preview). */
  async playWav(arrayBuffer) {
    if (!this.unlock()) return;
    this.stop();
    const buffer = await this.context.decodeAudioData(arrayBuffer);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    source.start();
  }
}
