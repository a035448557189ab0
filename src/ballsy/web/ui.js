// DOM helpers: conversation bubbles, the orb, captions and the connection status.
// Text is always set with textContent, never parsed as HTML.

const $ = (id) => document.getElementById(id);

const ORB_LABELS = {
  idle: ["Start listening", "Tap the orb and speak, or type below."],
  listening: ["Stop listening", "Listening… tap the orb when you are done."],
  thinking: ["Stop", "Thinking…"],
  speaking: ["Stop speaking", "Speaking — tap the orb or press Esc to stop."],
  waiting: ["Talk now", "Waiting for the wake word… or tap the orb to talk."],
};
const HEARING_CAPTION = "Hearing you…";
const OFFLINE_CAPTION = "Ballsy is offline. What you type is kept and sent when it is back.";

/** A message in the conversation; assistant bubbles can grow while a reply streams. */
export class Bubble {
  constructor(role, text = "") {
    this.element = document.createElement("li");
    this.element.className = `message ${role}`;
    this.element.dataset.role = role;
    const who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = { user: "You: ", assistant: "Ballsy: ", system: "Note: " }[role] || "";
    this.textNode = document.createElement("p");
    this.textNode.className = "message-text";
    this.textNode.textContent = text;
    this.element.append(who, this.textNode);
  }

  get text() {
    return this.textNode.textContent;
  }

  set text(value) {
    this.textNode.textContent = value;
    scrollToEnd();
  }

  append(delta) {
    this.textNode.textContent += delta;
    scrollToEnd();
  }

  /** Mark the bubble as still receiving text (screen readers wait until it is done). */
  setStreaming(streaming) {
    this.element.classList.toggle("streaming", streaming);
    this.element.setAttribute("aria-busy", streaming ? "true" : "false");
  }

  markInterrupted() {
    this.element.classList.add("interrupted");
    this.addNote("Interrupted");
  }

  addNote(text) {
    const note = document.createElement("p");
    note.className = "message-note";
    note.textContent = text;
    this.element.append(note);
    scrollToEnd();
    return note;
  }

  /** Who answered: Ballsy itself, or an AI model (named when the server says which). */
  setSource(source, model) {
    if (source !== "local" && source !== "ai") return;
    let meta = this.element.querySelector(".message-meta");
    if (!meta) {
      meta = document.createElement("p");
      meta.className = "message-meta";
      this.element.append(meta);
    }
    meta.textContent =
      source === "local" ? "Answered by Ballsy" : `Answered by AI${model ? ` · ${model}` : ""}`;
    this.element.dataset.source = source;
  }

  /** The AI was asked but did not answer: the words are Ballsy's own. */
  setFallback(model) {
    const meta = this.element.querySelector(".message-meta");
    const text = `Answered by Ballsy · the AI${model ? ` (${model})` : ""} could not answer`;
    if (meta) meta.textContent = text;
    this.element.dataset.fallback = "true";
  }

  /** Buttons under the message: [{label, onClick}]; returns the wrapper. */
  addActions(actions) {
    const wrapper = document.createElement("div");
    wrapper.className = "message-actions";
    for (const { label, onClick } of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pill-button";
      button.textContent = label;
      button.addEventListener("click", onClick);
      wrapper.append(button);
    }
    this.element.append(wrapper);
    scrollToEnd();
    return wrapper;
  }

  /** A link the user can always follow (also the fallback when a pop-up is blocked). */
  addLink(url, label, note = "") {
    const wrapper = document.createElement("p");
    wrapper.className = "message-link";
    if (note) wrapper.append(`${note} `);
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = label;
    wrapper.append(link);
    this.element.append(wrapper);
    scrollToEnd();
    return link;
  }
}

export function addBubble(role, text = "") {
  const bubble = new Bubble(role, text);
  $("conversation").append(bubble.element);
  conversationChanged();
  scrollToEnd();
  return bubble;
}

/** The example requests show while nothing has been said; phones shrink the orb after. */
function conversationChanged() {
  const started = $("conversation").querySelector(".message") !== null;
  document.body.dataset.conversation = started ? "started" : "empty";
  $("examples").hidden = started;
}

/** Whether anything has been said on this page (messages not restored from before). */
export function hasLiveMessages() {
  const live = ".message.user:not(.past), .message.assistant:not(.past)";
  return $("conversation").querySelector(live) !== null;
}

export function addDivider(text) {
  const item = document.createElement("li");
  item.className = "divider";
  item.textContent = text;
  $("conversation").append(item);
  scrollToEnd();
}

export function clearConversation() {
  $("conversation").replaceChildren();
  conversationChanged();
}

function scrollToEnd() {
  const list = $("conversation");
  list.scrollTop = list.scrollHeight;
}

export function setOrbState(state) {
  const orb = $("orb");
  if (orb.dataset.state === state) return;
  orb.dataset.state = state;
  const [label, caption] = ORB_LABELS[state];
  orb.setAttribute("aria-label", label);
  orb.setAttribute("aria-pressed", state === "listening" ? "true" : "false");
  if (document.body.dataset.connection !== "down") $("orb-caption").textContent = caption;
  document.body.dataset.state = state;
  $("stop").hidden = state !== "thinking" && state !== "speaking";
}

/** Mic loudness 0..1 drives the orb's glow and the level meter while listening. */
export function setLevel(level) {
  $("orb").style.setProperty("--level", level.toFixed(3));
  const meter = $("level-meter");
  if (meter) meter.style.setProperty("--level", level.toFixed(3));
}

/** While listening: the user's voice is heard ("Hearing you…" and the level meter). */
export function setHearing(hearing) {
  const orb = $("orb");
  const value = hearing ? "true" : "false";
  if (orb.dataset.hearing === value) return;
  orb.dataset.hearing = value;
  const meter = $("level-meter");
  if (meter) meter.hidden = !hearing;
  if (orb.dataset.state === "listening" && document.body.dataset.connection !== "down") {
    $("orb-caption").textContent = hearing ? HEARING_CAPTION : ORB_LABELS.listening[1];
  }
}

/** The visible sign that the microphone is open (on whenever Ballsy's ears are). */
export function setMicOpen(open) {
  const indicator = $("mic-open");
  if (indicator) indicator.hidden = !open;
  document.body.dataset.micOpen = open ? "true" : "false";
}

/** The server's wake phrase ("Okay Nabu"), for the caption while hands-free waits for it. */
export function setWakePhrase(phrase) {
  ORB_LABELS.waiting[1] = `Waiting for “${phrase}”… or tap the orb to talk. Esc stops.`;
}

export function setCaption(text) {
  $("orb-caption").textContent = text;
}

export function setInterim(text) {
  const interim = $("interim");
  interim.textContent = text;
  interim.hidden = !text;
}

export function setConnection(state, text) {
  $("connection").dataset.state = state;
  $("connection-text").textContent = text;
}

/** Say plainly, where the user looks (the orb), that Ballsy cannot be reached. */
export function setOffline(offline, text = "") {
  const wasDown = document.body.dataset.connection === "down";
  document.body.dataset.connection = offline ? "down" : "up";
  $("offline").hidden = !offline;
  if (offline) {
    $("offline-text").textContent = text;
    $("orb-caption").textContent = OFFLINE_CAPTION;
  } else if (wasDown) {
    $("orb-caption").textContent = ORB_LABELS[$("orb").dataset.state || "idle"][1];
  }
}
