// Timers, alarms and reminders on the page: the ring when one is due (a chime made with
// Web Audio, no file to download; the sentence spoken; a system notification where the
// user allowed them) and the list of those still to come, each with a Cancel button.

const CHIME_NOTES = [880, 1318.5, 1760]; // A5, E6, A6
const NOTE_SECONDS = 0.22;
let audioContext = null;

/** Three soft bell-like notes. Browsers keep audio silent until the page has been used;
 * a page that has never been touched shows the notification only. */
export function chime() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return false;
  try {
    audioContext = audioContext || new Context();
    if (audioContext.state === "suspended") audioContext.resume();
    const start = audioContext.currentTime + 0.02;
    CHIME_NOTES.forEach((frequency, index) => {
      const at = start + index * NOTE_SECONDS;
      const tone = audioContext.createOscillator();
      const level = audioContext.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      level.gain.setValueAtTime(0.0001, at);
      level.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      level.gain.exponentialRampToValueAtTime(0.0001, at + NOTE_SECONDS * 2.5);
      tone.connect(level).connect(audioContext.destination);
      tone.start(at);
      tone.stop(at + NOTE_SECONDS * 2.6);
    });
    return true;
  } catch {
    return false;
  }
}

/** Ask once, after the user has set a timer, whether Ballsy may show notifications. */
export function offerNotifications() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  try {
    const asked = Notification.requestPermission();
    if (asked && asked.catch) asked.catch(() => {});
  } catch {
    // Old browsers take a callback and throw on a promise-style call: no notifications.
  }
}

function notify(message) {
  if (!("Notification" in window) || Notification.permission !== "granted") return false;
  const titles = { timer: "Timer", alarm: "Alarm", reminder: "Reminder" };
  try {
    const notice = new Notification(`Ballsy: ${titles[message.kind] || "Reminder"}`, {
      body: message.text,
      tag: `ballsy-timer-${message.id}`, // one notice per item, even with several tabs open
    });
    notice.onclick = () => window.focus();
    return true;
  } catch {
    return false; // e.g. Android Chrome, which only notifies through a service worker
  }
}

/**
 * `timer_fired` from the server: chime, show, speak and notify. `say(text)` speaks;
 * `show(text)` adds it to the conversation. Returns what was done, for the tests.
 */
export function ring(message, { say, show }) {
  const text = message.text || "Time's up!";
  const done = { chimed: chime(), notified: notify(message) };
  show(text);
  say(text);
  return done;
}

/** The dialog listing what is still to come, with a Cancel button on each. */
export class TimerList {
  constructor({ api, describeError }) {
    this.api = api;
    this.describeError = describeError;
    this.dialog = document.getElementById("timers");
    this.list = document.getElementById("timer-list");
    this.status = document.getElementById("timers-status");
    document.getElementById("open-timers").addEventListener("click", () => this.show());
    document.getElementById("timers-close").addEventListener("click", () => this.dialog.close());
  }

  async show() {
    this.dialog.showModal();
    await this.refresh();
  }

  /** Re-read the list if it is open (after a timer is set, cancelled or rings). */
  async refresh() {
    if (!this.dialog.open) return;
    this.status.textContent = "Loading…";
    try {
      const body = await this.api.request("GET", "/api/timers");
      const items = body.timers || [];
      this.list.replaceChildren(...items.map((item) => this.row(item)));
      this.status.textContent = items.length ? "" : "No timers, alarms or reminders.";
    } catch (error) {
      this.status.textContent = this.describeError(error.code, error.message, error.retryAfter);
    }
  }

  row(item) {
    const li = document.createElement("li");
    li.className = "timer-item";
    li.dataset.kind = item.kind;
    const text = document.createElement("span");
    text.className = "timer-text";
    const kind = item.kind.charAt(0).toUpperCase() + item.kind.slice(1);
    text.textContent = `${kind}: ${item.description}`;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel ${item.kind}: ${item.description}`);
    cancel.addEventListener("click", () => this.cancel(item, li, cancel));
    li.append(text, cancel);
    return li;
  }

  async cancel(item, li, button) {
    button.disabled = true;
    try {
      await this.api.request("DELETE", `/api/timers/${encodeURIComponent(item.id)}`);
      li.remove();
      if (!this.list.children.length) this.status.textContent = "No timers, alarms or reminders.";
      else this.status.textContent = `Cancelled the ${item.kind}.`;
    } catch (error) {
      button.disabled = false;
      this.status.textContent = this.describeError(error.code, error.message, error.retryAfter);
    }
  }
}
