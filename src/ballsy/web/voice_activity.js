// Interrupt by voice: while Ballsy speaks, watch the microphone for the user's voice.
//
// The microphone is opened only while a watch is armed (the app arms it while Ballsy
// speaks) and released when it is disarmed, so the browser's microphone indicator is
// not on all the time. When sustained speech is heard the watch hands the open stream,
// and a recording started at the first syllable, to the caller: nothing said is lost.

import { MICROPHONE, recorderMime, rms, TIMESLICE_MS } from "./listener.js";

const MIC_USED_KEY = "ballsy.micUsed";
const POLL_MS = 30;

// The voice detector. Levels are RMS of the browser-processed signal (echo cancellation,
// noise suppression and automatic gain on), 0..1 full scale.
//  - The first CALIBRATION_MS after the microphone opens only measure the noise floor
//    (room noise plus whatever is left of Ballsy's own voice after echo cancellation).
//  - After that the floor keeps following the level while no voice is heard: slowly up
//    (a fan, a louder echo), quickly down.
//  - Voice is sound VOICE_RATIO times the floor (about +10 dB), never below MIN_THRESHOLD
//    (so near-digital silence does not make breath or keyboard noise count), never above
//    MAX_THRESHOLD (so a noisy start cannot make a voice undetectable).
//  - It must last: VOICE_MIN_MS of loud sound in total, with quiet gaps of at most GAP_MS
//    (the pauses between syllables). A click, a cough or a burst of echo is shorter.
const CALIBRATION_MS = 250;
const VOICE_RATIO = 3;
const MIN_THRESHOLD = 0.02;
const MAX_THRESHOLD = 0.08;
const VOICE_MIN_MS = 220;
const GAP_MS = 150;
const FLOOR_RISE = 0.03; // share of the difference taken per poll while the level is above the floor
const FLOOR_FALL = 0.3; // … and while it is below

const AudioContextClass = window.AudioContext || window.webkitAudioContext || null;

export const canWatchForVoice =
  AudioContextClass !== null &&
  Boolean(navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === "function");

let usedThisVisit = false;

/** Note that the user opened the microphone themselves (the orb), so it may be reopened. */
export function rememberMicrophoneUse() {
  usedThisVisit = true;
  try {
    window.localStorage.setItem(MIC_USED_KEY, "yes");
  } catch {
    /* storage disabled */
  }
}

function usedBefore() {
  try {
    return window.localStorage.getItem(MIC_USED_KEY) === "yes";
  } catch {
    return false;
  }
}

/**
 * May the microphone be opened without showing the user a permission prompt they did
 * not ask for? Yes when permission is granted; when it would prompt, only if the user
 * used the microphone during this visit; where the browser cannot say, if they ever
 * used it here.
 */
export async function microphoneMayOpen() {
  let permission = "unknown";
  try {
    if (navigator.permissions && navigator.permissions.query) {
      permission = (await navigator.permissions.query({ name: "microphone" })).state;
    }
  } catch {
    /* "microphone" is not a permission name this browser knows */
  }
  if (permission === "granted") return true;
  if (permission === "denied") return false;
  if (permission === "prompt") return usedThisVisit;
  return usedThisVisit || usedBefore();
}

/** Energy-based voice detection over polled levels; `update` says when voice is heard. */
export class VoiceDetector {
  constructor() {
    this.elapsedMs = 0;
    this.floor = 0;
    this._calibration = [];
    this.loudMs = 0;
    this.quietMs = 0;
  }

  get threshold() {
    return Math.min(MAX_THRESHOLD, Math.max(MIN_THRESHOLD, this.floor * VOICE_RATIO));
  }

  /** A candidate is under way: sound above the threshold that is not yet long enough. */
  get onset() {
    return this.loudMs > 0;
  }

  /** Feed one level measured `ms` after the previous one; true once voice is heard. */
  update(level, ms) {
    this.elapsedMs += ms;
    if (this.elapsedMs <= CALIBRATION_MS) {
      this._calibration.push(level);
      this.floor = this._calibration.reduce((sum, value) => sum + value, 0) / this._calibration.length;
      return false;
    }
    if (level >= this.threshold) {
      this.loudMs += ms;
      this.quietMs = 0;
      return this.loudMs >= VOICE_MIN_MS;
    }
    this.quietMs += ms;
    if (this.quietMs > GAP_MS) this.loudMs = 0; // too short: a click, not a voice
    if (this.loudMs === 0) {
      this.floor += (level - this.floor) * (level > this.floor ? FLOOR_RISE : FLOOR_FALL);
    }
    return false;
  }
}

/**
 * Opens the microphone on `arm()` and watches it until `disarm()` or until voice is
 * heard; then calls onVoice(handover) once, where handover is
 * {stream, recording: {recorder, chunks, mime} | null, noiseFloor, release()}; the
 * caller owns the stream from then on (release() stops it if the caller has no use for it).
 *
 * With `preRoll`, a MediaRecorder starts on the stream at the first loud moment, so a
 * recording handed over begins with the user's first syllable.
 */
export class VoiceWatch {
  constructor({ onVoice, onChange = () => {} }) {
    this.onVoice = onVoice;
    this.onChange = onChange;
    this.state = "off"; // off | opening | watching
    this.opened = 0; // how many times the microphone was opened, for people debugging (and tests)
    this.preRoll = false;
    this._generation = 0;
    this._stream = null;
    this._context = null;
    this._timer = null;
    this._recording = null;
  }

  get armed() {
    return this.state !== "off";
  }

  /** Start watching (no-op when already armed). Resolves to whether the microphone opened. */
  async arm({ preRoll = false } = {}) {
    if (this.armed || !canWatchForVoice) return this.armed;
    const generation = ++this._generation;
    this.preRoll = preRoll && typeof window.MediaRecorder === "function";
    this._setState("opening");
    const stream = await this._open();
    if (generation !== this._generation) {
      if (stream) for (const track of stream.getTracks()) track.stop();
      return false; // disarmed while the permission or the device was being asked for
    }
    if (!stream) {
      this._setState("off");
      return false;
    }
    this.opened += 1;
    this._stream = stream;
    this._watch(stream, generation);
    this._setState("watching");
    return true;
  }

  /** Stop watching and release the microphone. */
  disarm() {
    this._generation += 1;
    this._discardRecording();
    this._stopPolling();
    if (this._stream) for (const track of this._stream.getTracks()) track.stop();
    this._stream = null;
    this._setState("off");
  }

  async _open() {
    if (!(await microphoneMayOpen())) return null;
    try {
      return await navigator.mediaDevices.getUserMedia(MICROPHONE);
    } catch {
      return null; // no device, refused, or in use: Ballsy just cannot be interrupted by voice
    }
  }

  _watch(stream, generation) {
    const context = new AudioContextClass();
    this._context = context;
    context.resume().catch(() => {});
    const analyser = context.createAnalyser();
    // One analysis window covers at least one poll interval, so no sound falls between polls.
    const wanted = (context.sampleRate * POLL_MS) / 1000;
    analyser.fftSize = Math.min(32768, Math.max(512, 2 ** Math.ceil(Math.log2(wanted))));
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const detector = new VoiceDetector();
    let last = performance.now();
    this._timer = setInterval(() => {
      if (generation !== this._generation) return;
      const now = performance.now();
      analyser.getFloatTimeDomainData(samples);
      // Measured time, not POLL_MS: timers run late in busy or background tabs.
      const heard = detector.update(rms(samples), Math.min(now - last, 500));
      last = now;
      if (this.preRoll) this._followOnset(detector.onset);
      if (heard) this._handOver(detector.floor);
    }, POLL_MS);
  }

  /** Record from the first loud moment; drop the recording when it turns out not to be a voice. */
  _followOnset(onset) {
    if (onset && !this._recording) this._recording = this._startRecording();
    else if (!onset && this._recording) this._discardRecording();
  }

  _startRecording() {
    const mime = recorderMime();
    let recorder;
    try {
      recorder = new MediaRecorder(this._stream, mime ? { mimeType: mime } : undefined);
    } catch {
      this.preRoll = false;
      return null;
    }
    const recording = { recorder, chunks: [], mime: recorder.mimeType || mime || "audio/webm" };
    recording.collect = (event) => {
      if (event.data && event.data.size > 0) recording.chunks.push(event.data);
    };
    recorder.addEventListener("dataavailable", recording.collect);
    recorder.start(TIMESLICE_MS);
    return recording;
  }

  _discardRecording() {
    const recording = this._recording;
    this._recording = null;
    if (!recording) return;
    recording.recorder.removeEventListener("dataavailable", recording.collect);
    if (recording.recorder.state !== "inactive") recording.recorder.stop();
  }

  _handOver(noiseFloor) {
    const stream = this._stream;
    const recording = this._recording;
    if (recording) recording.recorder.removeEventListener("dataavailable", recording.collect);
    this._recording = null;
    this._stream = null; // the caller owns it now
    this.disarm();
    this.onVoice({
      stream,
      recording,
      noiseFloor,
      release: () => {
        if (recording && recording.recorder.state !== "inactive") recording.recorder.stop();
        for (const track of stream.getTracks()) track.stop();
      },
    });
  }

  _stopPolling() {
    clearInterval(this._timer);
    this._timer = null;
    if (this._context) this._context.close().catch(() => {});
    this._context = null;
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onChange(state);
  }
}
