// DOM helpers: conversation bubbles, the orb, captions and the connection status.
// Text is always set with textContent, never parsed as HTML.

const $ = (id) => document.getElementById(id);

const ORB_LABELS = {
  idle: ["Start listening", "Tap the orb and speak, or type below."],
  listening: ["Stop listening", "Listening… tap the orb when you are done."],
  thinking: ["Interrupt and listen", "Thinking…"],
  speaking: ["Stop speaking and listen", "Speaking — tap the orb to interrupt."],
};

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
  scrollToEnd();
  return bubble;
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
  $("orb-caption").textContent = caption;
  document.body.dataset.state = state;
}

/** Mic loudness 0..1 drives the orb's glow while listening. */
export function setLevel(level) {
  $("orb").style.setProperty("--level", level.toFixed(3));
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
