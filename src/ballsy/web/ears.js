// Ballsy's ears on the page: the microphone as a continuous 16 kHz PCM16 stream.
//
// While the microphone is open (listening, or waiting while Ballsy speaks or in hands-free
// mode) an AudioWorklet (pcm_worklet.js) delivers 20 ms chunks. The last PRE_ROLL_MS of them
// are always kept, so when listening starts, whether by a tap, a follow-up question or the
// user talking over Ballsy, the stream begins before the first word and nothing said is lost.
// The voice detector (voice_activity.js) is fed with each chunk's loudness in audio time,
// not on a timer: a busy machine delays the decision but not the audio it is made on.

import { MICROPHONE, rms } from "./listener.js";
import { microphoneMayOpen, VoiceDetector } from "./voice_activity.js";

export const SAMPLE_RATE = 16000;
export const STREAM_MIME = "audio/pcm;rate=16000";
const CHUNK_MS = 20;
export const PRE_ROLL_MS = 1000; // at least 400 ms is needed; more covers a late detector
const FULL_SCALE = 32768;

const AudioContextClass = window.AudioContext || window.webkitAudioContext || null;

export const canStream =
  AudioContextClass !== null &&
  typeof window.AudioWorkletNode === "function" &&
  Boolean(navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === "function");

/** A context running at 16 kHz, so the browser's own resampler (a proper low-pass filter)
 * brings the microphone down to the rate the server takes; where a browser refuses that
 * rate, its default one, and the worklet downsamples. */
function newContext() {
  try {
    return new AudioContextClass({ sampleRate: SAMPLE_RATE });
  } catch {
    return new AudioContextClass();
  }
}

function loudness(chunk) {
  const floats = new Float32Array(chunk.length);
  for (let i = 0; i < chunk.length; i += 1) floats[i] = chunk[i] / FULL_SCALE;
  return rms(floats);
}

/**
 * The open microphone. Callbacks: onChange(state) when it opens or closes.
 * `watch(onVoice)` reports sustained voice once; `stream(onChunk, onLevel)` sends the
 * pre-roll at once and then every chunk, until `unstream()`.
 */
export class Ears {
  constructor({ onChange = () => {} } = {}) {
    this.onChange = onChange;
    this.state = "off"; // off | opening | open
    this.opened = 0; // how many times the microphone was opened (for tests and debugging)
    this.voiceHeard = 0; // how many times watching heard a voice
    this._generation = 0;
    this._stream = null;
    this._context = null;
    this._ring = [];
    this._ringMs = 0;
    this._detector = null;
    this._onVoice = null;
    this._sink = null;
    this._onLevel = null;
  }

  get open() {
    return this.state === "open";
  }

  get watching() {
    return this._onVoice !== null;
  }

  /**
   * Open the microphone (no-op when open). `ask`: the user asked (a tap), so a
   * permission prompt is expected; otherwise only where it would not prompt.
   * Resolves to an error code ("not-allowed", "audio-capture", "unavailable") or null.
   */
  async openMicrophone({ ask = false } = {}) {
    if (this.state === "open") return null;
    if (!canStream) return "unavailable";
    if (!ask && !(await microphoneMayOpen())) return "not-allowed";
    const generation = ++this._generation;
    this._setState("opening");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(MICROPHONE);
    } catch (error) {
      if (generation === this._generation) this._setState("off");
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      return denied ? "not-allowed" : "audio-capture";
    }
    try {
      const context = newContext();
      await context.audioWorklet.addModule("/static/pcm_worklet.js");
      if (generation !== this._generation) throw new Error("closed while opening");
      const source = context.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(context, "ballsy-pcm");
      node.port.onmessage = (event) => this._chunk(new Int16Array(event.data), generation);
      // A silent path to the output keeps the graph (and so the worklet) running.
      const mute = context.createGain();
      mute.gain.value = 0;
      source.connect(node).connect(mute).connect(context.destination);
      await context.resume().catch(() => {});
      this._context = context;
    } catch {
      for (const track of stream.getTracks()) track.stop();
      if (generation === this._generation) this._setState("off");
      return "unavailable";
    }
    this._stream = stream;
    this.opened += 1;
    this._ring = [];
    this._ringMs = 0;
    this._setState("open");
    return null;
  }

  /** Report sustained voice once (the detector calibrates on the first moments). */
  watch(onVoice) {
    this._detector = new VoiceDetector();
    this._onVoice = onVoice;
  }

  unwatch() {
    this._onVoice = null;
    this._detector = null;
  }

  /** Send the pre-roll now, then every chunk as it comes, to onChunk(Int16Array). */
  stream(onChunk, onLevel = () => {}) {
    this.unwatch();
    this._sink = onChunk;
    this._onLevel = onLevel;
    for (const chunk of this._ring) onChunk(chunk);
    this._ring = [];
    this._ringMs = 0;
  }

  unstream() {
    this._sink = null;
    if (this._onLevel) this._onLevel(0);
    this._onLevel = null;
  }

  closeMicrophone() {
    this._generation += 1;
    this.unwatch();
    this.unstream();
    if (this._stream) for (const track of this._stream.getTracks()) track.stop();
    if (this._context) this._context.close().catch(() => {});
    this._stream = null;
    this._context = null;
    this._ring = [];
    this._ringMs = 0;
    this._setState("off");
  }

  _chunk(chunk, generation) {
    if (generation !== this._generation) return;
    if (this._sink) {
      this._sink(chunk);
      if (this._onLevel) this._onLevel(Math.min(1, loudness(chunk) * 4));
      return;
    }
    this._ring.push(chunk);
    this._ringMs += CHUNK_MS;
    while (this._ringMs > PRE_ROLL_MS) {
      this._ring.shift();
      this._ringMs -= CHUNK_MS;
    }
    if (this._onVoice && this._detector.update(loudness(chunk), CHUNK_MS)) {
      const onVoice = this._onVoice;
      this.unwatch();
      this.voiceHeard += 1;
      onVoice();
    }
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onChange(state);
  }
}
