// The audio thread's part of listening: the microphone's samples, downsampled to 16 kHz
// mono and converted to 16-bit integers, posted to the page in 20 ms chunks.
//
// It runs on the browser's audio rendering thread, so a busy page (or a busy machine
// delaying the page's timers) never loses audio: chunks queue on the port and arrive late,
// but whole and in order.

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 320; // 20 ms at 16 kHz

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    // sampleRate is the context's rate (a global of the audio worklet scope).
    this.step = sampleRate / TARGET_RATE;
    this.position = 0; // where the next output sample falls, in input samples
    this.previous = 0; // the last input sample of the previous block, for interpolation
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    const channel = input[0];
    const length = channel.length;
    // Averaging `step` samples around each output sample is a cheap low-pass filter, so
    // 48 kHz speech does not alias when only every third sample is kept.
    const span = Math.max(1, Math.round(this.step));
    while (this.position < length) {
      const at = Math.floor(this.position);
      let sum = 0;
      let count = 0;
      for (let i = at - span + 1; i <= at; i += 1) {
        sum += i >= 0 ? channel[i] : this.previous;
        count += 1;
      }
      const value = Math.max(-1, Math.min(1, sum / count));
      this.chunk[this.filled] = value < 0 ? value * 0x8000 : value * 0x7fff;
      this.filled += 1;
      if (this.filled === CHUNK_SAMPLES) {
        this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
        this.chunk = new Int16Array(CHUNK_SAMPLES);
        this.filled = 0;
      }
      this.position += this.step;
    }
    this.position -= length;
    this.previous = channel[length - 1];
    return true;
  }
}

registerProcessor("ballsy-pcm", PcmCapture);
