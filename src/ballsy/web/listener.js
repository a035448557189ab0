// Speech in: the browser's own recognition where it exists, or recorded audio for the server.

const RECORDER_TYPES = [
  "audio/webm;codecs=opus",
  "audio/ogg;codecs=opus",
  "audio/webm",
  "audio/ogg",
  "audio/mp4",
];
// MediaRecorder hands over a chunk this often.
export const TIMESLICE_MS = 250;
const LEVEL_EVERY_MS = 50;
const SPEECH_MIN_RMS = 0.012; // below this a sample is silence whatever the noise floor
const SPEECH_MAX_THRESHOLD = 0.05; // a loud first moment must not make speech undetectable
const NOISE_FLOOR_MS = 200;
const SPEECH_MIN_MS = 150; // this much sound above the threshold counts as speech
const SILENCE_AFTER_SPEECH_MS = 1_100; // stop this long after the speaker falls silent
const NO_SPEECH_MS = 8_000; // give up when nothing was said at all

const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition || null;

export const hasBrowserRecognition = Recognition !== null;
export const canRecord =
  typeof window.MediaRecorder === "function" &&
  Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

/** What Ballsy asks of the microphone, wherever it opens it. */
export const MICROPHONE = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
};

/** The loudness (root mean square, 0..1 full scale) of time-domain samples. */
export function rms(samples) {
  let sum = 0;
  for (const value of samples) sum += value * value;
  return Math.sqrt(sum / samples.length);
}

/** The best container the browser can record that the server decodes. */
export function recorderMime() {
  if (typeof MediaRecorder.isTypeSupported !== "function") return "";
  return RECORDER_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
}

/**
 * Web Speech API recognition: interim text while the user talks, one final text.
 * Callbacks: onInterim(text), onFinal(text), onEnd(), onError(code, message), and
 * optionally onAudioStart() when the microphone opened.
 */
export class BrowserRecognizer {
  constructor(callbacks) {
    this.callbacks = callbacks;
    this.recognition = null;
  }

  start() {
    const recognition = new Recognition();
    recognition.lang = navigator.language || "en-US";
    recognition.interimResults = true;
    recognition.continuous = false;
    recognition.maxAlternatives = 1;
    let finalText = "";
    let failed = false;
    if (this.callbacks.onAudioStart) {
      recognition.addEventListener("audiostart", this.callbacks.onAudioStart);
    }
    recognition.addEventListener("result", (event) => {
      let interim = "";
      finalText = "";
      for (const result of event.results) {
        if (result.isFinal) finalText += result[0].transcript;
        else interim += result[0].transcript;
      }
      this.callbacks.onInterim((finalText + interim).trim());
    });
    recognition.addEventListener("error", (event) => {
      failed = event.error !== "no-speech" && event.error !== "aborted";
      if (failed) this.callbacks.onError(event.error, event.message || "");
    });
    recognition.addEventListener("end", () => {
      this.recognition = null;
      if (failed) return;
      if (finalText.trim()) this.callbacks.onFinal(finalText.trim());
      else this.callbacks.onEnd();
    });
    this.recognition = recognition;
    recognition.start();
  }

  /** Stop listening and keep what was heard. */
  stop() {
    if (this.recognition) this.recognition.stop();
  }

  /** Stop listening and throw away what was heard. */
  abort() {
    if (this.recognition) this.recognition.abort();
  }
}

/**
 * Records the microphone with MediaRecorder. It stops by itself after a pause that
 * follows speech, when nothing is said, or at the maximum duration.
 *
 * `takeOver` continues a capture that interrupting by voice began (voice_activity.js):
 * {stream, recording: {recorder, chunks, mime} | null, noiseFloor}. The user is already
 * talking then, so the noise floor comes from before they started.
 *
 * Callbacks: onStart(mime), onChunk(blob), onStop({blob, mime, heardSpeech}),
 * onLevel(rms 0..1), onError(code, message).
 */
export class AudioRecorder {
  constructor(callbacks, { maxSeconds = 30, takeOver = null } = {}) {
    this.callbacks = callbacks;
    this.maxMs = Math.max(2, maxSeconds) * 1000;
    this.takeOver = takeOver;
    this.recorder = null;
    this.stream = null;
    this.audioContext = null;
    this._timers = [];
    this.heardSpeech = takeOver !== null;
    this._stopAsked = false; // stop() came before the microphone opened
  }

  get active() {
    return this.recorder !== null && this.recorder.state !== "inactive";
  }

  async start() {
    const stream = this.takeOver ? this.takeOver.stream : await this._open();
    if (!stream) return false;
    this.stream = stream;
    if (this._stopAsked) {
      // Stopped while the microphone was opening (a quick tap, Space let go): nothing to send.
      this._release();
      this.callbacks.onStop({ blob: new Blob([]), mime: "", heardSpeech: false, cancelled: true });
      return false;
    }
    const recording = this.takeOver && this.takeOver.recording;
    const mime = recording ? recording.mime : recorderMime();
    const recorder = recording
      ? recording.recorder
      : new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
    this.recorder = recorder;
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => {
      if (!event.data || event.data.size === 0) return;
      chunks.push(event.data);
      this.callbacks.onChunk(event.data);
    });
    recorder.addEventListener("stop", () => {
      const type = recorder.mimeType || mime || "audio/webm";
      this._release();
      this.callbacks.onStop({
        blob: new Blob(chunks, { type }),
        mime: type,
        heardSpeech: this.heardSpeech,
      });
    });
    this.callbacks.onStart(recorder.mimeType || mime || "audio/webm");
    if (recording) {
      // Already recording since the first syllable: pass on what it has so far.
      for (const chunk of recording.chunks) {
        chunks.push(chunk);
        this.callbacks.onChunk(chunk);
      }
    } else {
      recorder.start(TIMESLICE_MS);
    }
    this._watchLevel(stream, this.takeOver ? this.takeOver.noiseFloor : null);
    this._timers.push(setTimeout(() => this.stop(), this.maxMs));
    return true;
  }

  async _open() {
    try {
      return await navigator.mediaDevices.getUserMedia(MICROPHONE);
    } catch (error) {
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      this.callbacks.onError(
        denied ? "not-allowed" : "audio-capture",
        denied ? "Microphone permission was refused." : "No microphone could be opened.",
      );
      return null;
    }
  }

  stop() {
    this._stopAsked = true;
    if (this.active) this.recorder.stop();
  }

  /**
   * Measure loudness to detect the end of speech (no speech recognition needed).
   * `knownFloor`: the room's noise floor measured before the user started talking.
   */
  _watchLevel(stream, knownFloor = null) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    const context = new Context();
    this.audioContext = context;
    context.resume().catch(() => {});
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const startedAt = performance.now();
    let noiseFloor = knownFloor || 0;
    let loudMs = 0;
    let quietMs = 0;
    const tick = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      const level = rms(samples);
      this.callbacks.onLevel(Math.min(1, level * 4));
      const elapsed = performance.now() - startedAt;
      if (elapsed < NOISE_FLOOR_MS && !this.heardSpeech) {
        noiseFloor = Math.max(noiseFloor, level); // the first moment sets the room's noise floor
      }
      const threshold = Math.min(SPEECH_MAX_THRESHOLD, Math.max(SPEECH_MIN_RMS, noiseFloor * 2.5));
      if (level >= threshold) {
        loudMs += LEVEL_EVERY_MS;
        quietMs = 0;
        if (loudMs >= SPEECH_MIN_MS) this.heardSpeech = true;
      } else {
        quietMs += LEVEL_EVERY_MS;
      }
      if (this.heardSpeech && quietMs >= SILENCE_AFTER_SPEECH_MS) this.stop();
      else if (!this.heardSpeech && elapsed >= NO_SPEECH_MS) this.stop();
    }, LEVEL_EVERY_MS);
    this._timers.push(tick);
  }

  _release() {
    for (const timer of this._timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this._timers = [];
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    if (this.audioContext) this.audioContext.close().catch(() => {});
    this.stream = null;
    this.audioContext = null;
    this.recorder = null;
    this.callbacks.onLevel(0);
  }
}
