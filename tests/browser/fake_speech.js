// Headless Chromium has no voices: every utterance fails at once, so the page would never
// be "speaking" for long. This stands in for window.speechSynthesis with a synthesiser that
// takes a realistic time per utterance (about 14 characters a second, like a voice at 180
// words per minute) and records what it was asked to do in window.__speech.
(() => {
  const MS_PER_CHAR = 70;
  const log = []; // {event: "speak" | "end" | "cancel", text, at}
  let current = null;
  let timer = null;

  class FakeSpeechSynthesis extends EventTarget {
    get speaking() {
      return current !== null;
    }

    get pending() {
      return false;
    }

    get paused() {
      return false;
    }

    getVoices() {
      return [];
    }

    speak(utterance) {
      clearTimeout(timer);
      current = utterance;
      log.push({ event: "speak", text: utterance.text, at: performance.now() });
      const rate = utterance.rate || 1;
      setTimeout(() => utterance.dispatchEvent(new Event("start")), 0);
      timer = setTimeout(() => {
        if (current !== utterance) return;
        current = null;
        log.push({ event: "end", text: utterance.text, at: performance.now() });
        utterance.dispatchEvent(new Event("end"));
      }, (utterance.text.length * MS_PER_CHAR) / rate);
    }

    cancel() {
      clearTimeout(timer);
      const utterance = current;
      current = null;
      log.push({ event: "cancel", text: utterance ? utterance.text : null, at: performance.now() });
    }

    pause() {}

    resume() {}
  }

  const synth = new FakeSpeechSynthesis();
  Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
  window.__speech = {
    log,
    get speaking() {
      return current !== null;
    },
  };
})();
