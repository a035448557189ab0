// Speech out: speak a streamed reply sentence by sentence as its text arrives.

const SENTENCE_END = /[.!?…]+["'”’)\]]*\s+|\n+/g;
const LONG_CLAUSE_CHARS = 180; // speak a very long unfinished sentence at a comma rather than wait
const BASE_WPM = 180;

/** Split finished sentences off the front of `buffer`: [sentences, rest]. */
export function takeSentences(buffer) {
  const sentences = [];
  let last = 0;
  SENTENCE_END.lastIndex = 0;
  let match;
  while ((match = SENTENCE_END.exec(buffer)) !== null) {
    const end = match.index + match[0].length;
    const sentence = buffer.slice(last, end).trim();
    if (sentence) sentences.push(sentence);
    last = end;
  }
  let rest = buffer.slice(last);
  if (rest.length > LONG_CLAUSE_CHARS) {
    const cut = rest.lastIndexOf(", ");
    if (cut > 40) {
      sentences.push(rest.slice(0, cut + 1).trim());
      rest = rest.slice(cut + 2);
    }
  }
  return [sentences, rest];
}

/** speechSynthesis rate for a speed in words per minute (180 is the browser's normal rate). */
export function rateFor(wordsPerMinute) {
  const rate = (Number(wordsPerMinute) || BASE_WPM) / BASE_WPM;
  return Math.min(2, Math.max(0.5, rate));
}

/**
 * Speaks one utterance at a time from its own queue, so text can be added while
 * earlier sentences are spoken and `cancel()` silences everything at once.
 */
export class Speaker {
  constructor({ onChange }) {
    this.synth = "speechSynthesis" in window ? window.speechSynthesis : null;
    this.onChange = onChange;
    this.enabled = true;
    this.voiceName = "";
    this.rate = 1;
    this.queue = [];
    this.buffer = "";
    this.current = null;
    this.log = []; // sentences handed to the synthesiser, for people debugging (and tests)
    this._safety = null;
  }

  get available() {
    return this.synth !== null;
  }

  get speaking() {
    return this.current !== null || this.queue.length > 0;
  }

  configure({ voice, wordsPerMinute, enabled }) {
    if (voice !== undefined) this.voiceName = voice || "";
    if (wordsPerMinute !== undefined) this.rate = rateFor(wordsPerMinute);
    if (enabled !== undefined) this.enabled = Boolean(enabled);
  }

  voices() {
    return this.synth ? this.synth.getVoices() : [];
  }

  /** Start a new reply: anything still queued from an older one is dropped. */
  begin() {
    this.cancel();
  }

  /** Add streamed text; every finished sentence is spoken right away. */
  push(text, turnId = null) {
    this.buffer += text;
    const [sentences, rest] = takeSentences(this.buffer);
    this.buffer = rest;
    for (const sentence of sentences) this._enqueue(sentence, turnId);
  }

  /** The reply is complete: speak whatever is left. */
  finish(turnId = null) {
    const rest = this.buffer.trim();
    this.buffer = "";
    if (rest) this._enqueue(rest, turnId);
  }

  /** Speak a whole reply that arrived at once. */
  say(text, turnId = null) {
    this.begin();
    this.push(text, turnId);
    this.finish(turnId);
  }

  /** Stop speaking now and forget everything queued. */
  cancel() {
    const wasSpeaking = this.speaking;
    this.queue = [];
    this.buffer = "";
    this.current = null;
    clearTimeout(this._safety);
    if (this.synth) this.synth.cancel();
    if (wasSpeaking) this.onChange(false);
  }

  _enqueue(sentence, turnId) {
    if (!this.enabled || !this.synth) return;
    this.log.push({ text: sentence, turnId, at: performance.now() });
    const wasSpeaking = this.speaking;
    this.queue.push(sentence);
    if (!this.current) this._next();
    if (!wasSpeaking) this.onChange(true);
  }

  _next() {
    clearTimeout(this._safety);
    const sentence = this.queue.shift();
    if (sentence === undefined) {
      this.current = null;
      this.onChange(false);
      return;
    }
    const utterance = new SpeechSynthesisUtterance(sentence);
    const voice = this.voices().find((v) => v.name === this.voiceName);
    if (voice) {
      utterance.voice = voice;
      utterance.lang = voice.lang;
    }
    utterance.rate = this.rate;
    const done = () => {
      if (this.current !== utterance) return; // cancelled or already finished
      this.current = null;
      this._next();
    };
    utterance.addEventListener("end", done);
    utterance.addEventListener("error", done);
    this.current = utterance;
    // Some platforms never fire "end" (no voices installed, a muted tab): move on after
    // a generous estimate of the sentence's length so the page never stays "speaking".
    const words = sentence.split(/\s+/).length;
    const estimateMs = ((words / BASE_WPM) * 60_000) / this.rate + 2_500;
    this._safety = setTimeout(done, estimateMs);
    this.synth.speak(utterance);
  }
}
