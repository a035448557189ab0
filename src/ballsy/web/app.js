// Ballsy's page: wires identity, settings, the voice socket, speech in and out, and the UI.

import { Api } from "./api.js";
import { AudioRecorder, BrowserRecognizer, canRecord, hasBrowserRecognition } from "./listener.js";
import {
  applyStoredTheme,
  applyTheme,
  browserTimezone,
  localPreferences,
  setupSettings,
} from "./settings.js";
import { VoiceSocket } from "./socket.js";
import { Speaker } from "./speaker.js";
import * as ui from "./ui.js";
import { canWatchForVoice, rememberMicrophoneUse, VoiceWatch } from "./voice_activity.js";

const MAX_FRAME_BYTES = 64 * 1024;
const MAX_RECORDING_SECONDS = 30;
const HISTORY_TURNS = 20;
const RECOGNITION_UNAVAILABLE = new Set(["network", "service-not-allowed", "language-not-supported"]);
// A streamed reply can pause between sentences while the AI writes the next one: keep
// watching for the user's voice that long after speech stops before closing the microphone.
const VOICE_WATCH_LINGER_MS = 1_500;

const api = new Api();
const state = {
  settings: { voice: "", voice_speed: 180, theme: "light", timezone: browserTimezone() },
  local: localPreferences(),
  caps: {
    ai: false,
    stt: true,
    max_command_chars: 1000,
    max_audio_bytes: 10 * 1024 * 1024,
    max_audio_seconds: 60,
    max_frame_bytes: MAX_FRAME_BYTES,
  },
  ready: false, // the identity is known
  listening: null, // the capture in progress: {kind: "browser"|"recorder", …}
  browserRecognitionFailed: false,
  awaiting: [], // socket requests with no reply_start yet, oldest first: {kind, cancelled}
  turns: new Map(), // turn_id -> {bubble, cancelled, streamed}
  activeTurn: null, // the turn_id whose reply is streaming now
  rest: new Set(), // REST requests in flight: {cancelled}
};

const speaker = new Speaker({ onChange: () => refreshOrb() });
const voiceWatch = new VoiceWatch({ onVoice: (handover) => onVoiceWhileSpeaking(handover) });
let voiceWatchLinger = null;
const socket = new VoiceSocket({
  hello: () => ({ type: "hello", token: api.token, timezone: timezone() }),
  onMessage: (message) => onSocketMessage(message),
  onState: (connection, delay, info) => onConnectionState(connection, delay, info),
});

function timezone() {
  return state.settings.timezone || browserTimezone();
}

// --- orb -----------------------------------------------------------------------------------

function busy() {
  return (
    state.activeTurn !== null ||
    state.awaiting.some((request) => !request.cancelled) ||
    [...state.rest].some((request) => !request.cancelled)
  );
}

function refreshOrb() {
  if (state.listening) ui.setOrbState("listening");
  else if (speaker.speaking) ui.setOrbState("speaking");
  else if (busy()) ui.setOrbState("thinking");
  else ui.setOrbState("idle");
  updateVoiceWatch();
}

// --- interrupt by voice --------------------------------------------------------------------

/** Watch the microphone for the user's voice while Ballsy speaks, and only then. */
function updateVoiceWatch() {
  const mode = captureMode();
  const allowed = state.local.interruptByVoice && !state.listening && mode !== "none";
  if (allowed && speaker.speaking) {
    clearTimeout(voiceWatchLinger);
    voiceWatchLinger = null;
    // Recording for the server: record from the first syllable, so nothing said is lost.
    if (!voiceWatch.armed) voiceWatch.arm({ preRoll: mode === "server" });
    return;
  }
  if (!voiceWatch.armed) return;
  if (!allowed) stopVoiceWatch();
  else if (voiceWatchLinger === null) {
    voiceWatchLinger = setTimeout(stopVoiceWatch, VOICE_WATCH_LINGER_MS);
  }
}

function stopVoiceWatch() {
  clearTimeout(voiceWatchLinger);
  voiceWatchLinger = null;
  voiceWatch.disarm();
}

/** The user started talking over Ballsy: barge in, and listen with the microphone already open. */
function onVoiceWhileSpeaking(handover) {
  if (state.listening || !state.local.interruptByVoice) {
    handover.release();
    return;
  }
  bargeIn();
  startListening(handover);
}

/** Stop talking at once and cancel whatever reply is in flight. */
function bargeIn() {
  speaker.cancel();
  stopVoiceWatch();
  if (state.activeTurn !== null) {
    const turnId = state.activeTurn;
    const turn = state.turns.get(turnId);
    if (turn && turn.bubble) {
      turn.bubble.setStreaming(false);
      turn.bubble.markInterrupted();
    }
    if (turn) turn.cancelled = true;
    socket.send({ type: "cancel", turn_id: turnId });
    state.activeTurn = null;
  }
  for (const request of state.awaiting) request.cancelled = true;
  for (const request of state.rest) request.cancelled = true;
  refreshOrb();
}

function onOrbClick() {
  if (state.listening) {
    stopListening();
    return;
  }
  bargeIn();
  startListening();
}

// --- sending commands ----------------------------------------------------------------------

async function sendCommand(text) {
  const command = text.trim();
  if (!command) return;
  bargeIn();
  ui.addBubble("user", command);
  if (socket.send({ type: "command", command })) {
    state.awaiting.push({ kind: "command", cancelled: false });
    refreshOrb();
    return;
  }
  await viaRest(() => api.command(command, timezone()));
}

/** The REST fallback while the socket is down: one request, one whole reply. */
async function viaRest(call) {
  const request = { cancelled: false };
  state.rest.add(request);
  refreshOrb();
  try {
    if (!state.ready) await api.ensureSession();
    const result = await call();
    ui.setInterim("");
    if (typeof result.transcript === "string") {
      ui.addBubble("user", result.transcript || "(nothing heard)");
    }
    const bubble = ui.addBubble("assistant", result.response || "");
    bubble.element.dataset.via = "http";
    if (request.cancelled) {
      bubble.markInterrupted();
      return;
    }
    const extra = performAction(result.action, result.data, bubble);
    speaker.say([result.response, extra].filter(Boolean).join(" "));
  } catch (error) {
    ui.setInterim("");
    ui.addBubble("system", describeError(error.code, error.message, error.retryAfter));
  } finally {
    state.rest.delete(request);
    refreshOrb();
  }
}

// --- socket messages -----------------------------------------------------------------------

function onSocketMessage(message) {
  switch (message.type) {
    case "reply_start":
      return startTurn(message);
    case "reply_delta":
      return continueTurn(message);
    case "reply_end":
      return endTurn(message);
    case "command_response":
      return legacyResponse(message);
    case "transcript":
      ui.setInterim("");
      ui.addBubble("user", message.text || "");
      return undefined;
    case "error":
      return socketError(message);
    case "_closed":
      return connectionLost();
    default:
      return undefined; // status_update and anything newer than this page
  }
}

function startTurn(message) {
  const request = state.awaiting.shift() || { kind: "unknown", cancelled: false };
  const turn = { bubble: null, cancelled: request.cancelled, streamed: false };
  state.turns.set(message.turn_id, turn);
  ui.setInterim("");
  if (turn.cancelled) {
    socket.send({ type: "cancel", turn_id: message.turn_id });
    refreshOrb();
    return;
  }
  state.activeTurn = message.turn_id;
  turn.bubble = ui.addBubble("assistant");
  turn.bubble.element.dataset.source = message.source || "";
  turn.bubble.element.dataset.turnId = message.turn_id;
  turn.bubble.setStreaming(true);
  speaker.begin();
  refreshOrb();
}

function continueTurn(message) {
  const turn = state.turns.get(message.turn_id);
  if (!turn || turn.cancelled || !turn.bubble) return;
  turn.streamed = true;
  turn.bubble.append(message.text || "");
  speaker.push(message.text || "", message.turn_id);
}

function endTurn(message) {
  const turn = state.turns.get(message.turn_id);
  state.turns.delete(message.turn_id);
  if (state.activeTurn === message.turn_id) state.activeTurn = null;
  if (turn && turn.cancelled) {
    refreshOrb();
    return;
  }
  const bubble = (turn && turn.bubble) || ui.addBubble("assistant");
  if (message.response) bubble.text = message.response;
  bubble.setStreaming(false);
  if (message.interrupted) {
    bubble.markInterrupted();
    refreshOrb();
    return;
  }
  const extra = performAction(message.action, message.data, bubble);
  if (!turn || !turn.streamed) speaker.push(`${message.response || ""} `, message.turn_id);
  if (extra) speaker.push(` ${extra} `, message.turn_id);
  speaker.finish(message.turn_id);
  refreshOrb();
}

/** A server that only speaks the original protocol answers with command_response alone
 * (Ballsy answers a typed command with reply_end only). */
function legacyResponse(message) {
  const request = state.awaiting.shift();
  const reply = message.data || {};
  const bubble = ui.addBubble("assistant", reply.response || "");
  if (request && request.cancelled) {
    bubble.markInterrupted();
  } else {
    const extra = performAction(reply.action, reply.data, bubble);
    speaker.say([reply.response, extra].filter(Boolean).join(" "));
  }
  refreshOrb();
}

function socketError(message) {
  ui.setInterim("");
  if (message.code === "unauthorized") {
    api.createSession().then(() => socket.reconnectNow(), () => {});
    return;
  }
  // An error about a request answers it instead of a reply.
  const request = message.turn_id ? null : state.awaiting.shift();
  if (!(request && request.cancelled)) {
    ui.addBubble("system", describeError(message.code, message.message, message.retry_after));
  }
  refreshOrb();
}

function connectionLost() {
  const unanswered = state.awaiting.filter((request) => !request.cancelled).length;
  state.awaiting = [];
  if (state.activeTurn !== null) {
    const turn = state.turns.get(state.activeTurn);
    if (turn && turn.bubble) {
      turn.bubble.setStreaming(false);
      turn.bubble.addNote("The connection dropped before the reply finished.");
    }
  }
  state.turns.clear();
  state.activeTurn = null;
  if (unanswered) ui.addBubble("system", "The connection dropped before Ballsy answered. Please try again.");
  refreshOrb();
}

function onConnectionState(connection, delay, info) {
  if (connection === "connected") {
    ui.setConnection("connected", info && info.reconnected ? "Reconnected" : "Connected");
  } else if (connection === "reconnecting" && delay > 0) {
    const seconds = Math.max(1, Math.round(delay / 1000));
    ui.setConnection("reconnecting", `Offline, retrying in ${seconds} s (typed commands still work)`);
  } else if (connection === "reconnecting") {
    ui.setConnection("reconnecting", "Reconnecting…");
  } else if (connection === "offline") {
    ui.setConnection("offline", "No network");
  } else {
    ui.setConnection("connecting", "Connecting…");
  }
}

function describeError(code, message, retryAfter) {
  if (code === "no_speech") return "I didn't catch that. Try again, or type your command.";
  let text = message || "Something went wrong.";
  if (code === "rate_limited" && retryAfter) text += ` Try again in ${Math.ceil(retryAfter)} s.`;
  return text;
}

// --- actions -------------------------------------------------------------------------------

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function openInNewTab(url, label, bubble) {
  const href = safeUrl(url);
  if (!href) return;
  const opened = window.open(href, "_blank");
  if (opened) {
    try {
      opened.opener = null; // the opened site must not script this page
    } catch {
      /* cross-origin already */
    }
    bubble.addLink(href, label, "Opened in a new tab:");
    bubble.element.dataset.popup = "opened";
  } else {
    bubble.addLink(href, label, "Your browser blocked the new tab. Open it here:");
    bubble.element.dataset.popup = "blocked";
  }
}

/** Carry out a reply's action; returns extra text to speak, if any. */
function performAction(action, data, bubble) {
  const details = data || {};
  if (action === "open_url" && details.url) {
    openInNewTab(details.url, details.description || details.url, bubble);
  } else if (action === "search" && details.query) {
    const url = `https://www.google.com/search?q=${encodeURIComponent(details.query)}`;
    openInNewTab(url, `Search the web for “${details.query}”`, bubble);
  } else if (action === "open_app") {
    const name = details.app_name ? ` (${details.app_name})` : "";
    const note = `I can't open desktop apps from the browser${name}.`;
    bubble.addNote(note);
    return note;
  } else if (action === "exit") {
    stopListening();
    ui.setCaption("Goodbye! Tap the orb whenever you need me.");
  }
  return "";
}

// --- speech in -----------------------------------------------------------------------------

function captureMode() {
  const browserOk = hasBrowserRecognition && !state.browserRecognitionFailed;
  const serverOk = canRecord && state.caps.stt;
  if (state.local.serverStt && serverOk) return "server";
  if (browserOk) return "browser";
  if (serverOk) return "server";
  return "none";
}

/** Listen for a command; `takeOver` is a capture interrupting by voice already began. */
function startListening(takeOver = null) {
  const mode = state.listening ? "busy" : captureMode();
  if (mode === "server") {
    startRecording(takeOver);
    return;
  }
  if (takeOver) takeOver.release(); // browser recognition opens the microphone itself
  if (mode === "browser") startRecognition();
  else if (mode === "none") ui.setCaption("Speech input is not available here. Type your command below.");
}

function stopListening() {
  const capture = state.listening;
  if (!capture) return;
  if (capture.kind === "browser") capture.recognizer.stop();
  else capture.recorder.stop();
}

function startRecognition() {
  const done = () => {
    state.listening = null;
    ui.setInterim("");
    refreshOrb();
  };
  const recognizer = new BrowserRecognizer({
    onAudioStart: rememberMicrophoneUse,
    onInterim: (text) => ui.setInterim(text),
    onFinal: (text) => {
      done();
      sendCommand(text);
    },
    onEnd: done,
    onError: (code) => {
      done();
      if (RECOGNITION_UNAVAILABLE.has(code) && canRecord && state.caps.stt) {
        state.browserRecognitionFailed = true; // e.g. a Chromium without Google's speech service
        startRecording();
        return;
      }
      ui.addBubble("system", recognitionErrorText(code));
    },
  });
  state.listening = { kind: "browser", recognizer };
  refreshOrb();
  try {
    recognizer.start();
  } catch {
    done();
  }
}

function recognitionErrorText(code) {
  if (code === "not-allowed") return "Microphone permission was refused. You can still type.";
  if (code === "audio-capture") return "No microphone was found. You can still type.";
  return `Speech recognition failed (${code}). You can still type.`;
}

function startRecording(takeOver = null) {
  const capture = {
    kind: "recorder",
    recorder: null,
    streaming: false,
    generation: socket.generation,
    sent: Promise.resolve(),
    bytes: 0,
  };
  const maxSeconds = Math.min(state.caps.max_audio_seconds || MAX_RECORDING_SECONDS, MAX_RECORDING_SECONDS);
  capture.recorder = new AudioRecorder(
    {
      onStart: (mime) => {
        rememberMicrophoneUse();
        capture.streaming = socket.send({ type: "audio_start", mime });
      },
      onChunk: (blob) => {
        capture.bytes += blob.size;
        if (capture.bytes > state.caps.max_audio_bytes) capture.recorder.stop();
        if (capture.streaming) capture.sent = capture.sent.then(() => streamChunk(capture, blob));
      },
      onStop: (recording) => finishRecording(capture, recording),
      onLevel: (level) => ui.setLevel(level),
      onError: (_code, message) => {
        state.listening = null;
        ui.setInterim("");
        ui.addBubble("system", `${message} You can still type.`);
        refreshOrb();
      },
    },
    { maxSeconds, takeOver },
  );
  state.listening = capture;
  ui.setInterim("Listening…");
  refreshOrb();
  capture.recorder.start();
}

/** Send one recorded chunk as binary frames no larger than the server takes, in order. */
async function streamChunk(capture, blob) {
  if (!capture.streaming) return;
  const buffer = await blob.arrayBuffer();
  const frameBytes = Math.min(state.caps.max_frame_bytes || MAX_FRAME_BYTES, MAX_FRAME_BYTES);
  for (let offset = 0; offset < buffer.byteLength; offset += frameBytes) {
    const frame = buffer.slice(offset, offset + frameBytes);
    if (socket.generation !== capture.generation || !socket.sendBinary(frame)) {
      capture.streaming = false; // the socket dropped: the whole recording goes over HTTP
      return;
    }
  }
}

async function finishRecording(capture, { blob, mime }) {
  state.listening = null;
  ui.setInterim("Transcribing…");
  refreshOrb();
  await capture.sent;
  if (capture.streaming && socket.generation === capture.generation && socket.send({ type: "audio_end" })) {
    state.awaiting.push({ kind: "audio", cancelled: false });
    refreshOrb();
    return;
  }
  await viaRest(() => api.voice(blob, mime));
}

// --- settings and start-up -----------------------------------------------------------------

function applySettings(settings) {
  state.settings = { ...state.settings, ...settings };
  applyTheme(state.settings.theme);
  speaker.configure({
    voice: state.settings.voice,
    wordsPerMinute: state.settings.voice_speed,
    enabled: state.local.speak,
  });
}

async function saveSettings(patch, local) {
  const zoneChanged = patch.timezone !== state.settings.timezone;
  const saved = await api.saveSettings(patch);
  state.local = local;
  applySettings(saved);
  updateVoiceWatch();
  if (zoneChanged && socket.ready) socket.reconnectNow(); // the hello carries the time zone
}

function renderHistory(history) {
  if (!history.length) return;
  ui.addDivider("Earlier");
  for (const entry of [...history].reverse()) {
    ui.addBubble("user", entry.command).element.classList.add("past");
    ui.addBubble("assistant", entry.result || "").element.classList.add("past");
  }
  ui.addDivider("Now");
}

async function newConversation() {
  bargeIn();
  try {
    await api.newConversation();
    ui.clearConversation();
    ui.addDivider("New conversation");
  } catch (error) {
    ui.addBubble("system", describeError(error.code, error.message, error.retryAfter));
  }
}

function wireControls() {
  document.getElementById("orb").addEventListener("click", onOrbClick);
  const input = document.getElementById("command-input");
  document.getElementById("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    sendCommand(text);
  });
  document.getElementById("new-conversation").addEventListener("click", newConversation);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || document.getElementById("settings").open) return;
    if (state.listening) stopListening();
    else bargeIn();
  });
  setupSettings({
    getState: () => ({ settings: state.settings, local: state.local }),
    voices: () => speaker.voices(),
    save: saveSettings,
    canInterruptByVoice: canWatchForVoice,
  });
}

/** Find or create the identity, retrying with backoff while the server is unreachable. */
async function establishSession() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api.ensureSession();
    } catch (error) {
      const delay = Math.min(10_000, 500 * 2 ** attempt);
      ui.setConnection("reconnecting", `Cannot reach Ballsy, retrying in ${Math.round(delay / 1000) || 1} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function start() {
  applyStoredTheme();
  wireControls();
  refreshOrb();
  const { created } = await establishSession();
  state.ready = true;
  try {
    state.caps = { ...state.caps, ...(await api.capabilities()) };
  } catch {
    /* keep the defaults; the server still answers errors clearly */
  }
  document.getElementById("command-input").maxLength = state.caps.max_command_chars;
  try {
    const settings = await api.getSettings();
    applySettings(settings);
    if (created || !settings.timezone) applySettings(await api.saveSettings({ timezone: browserTimezone() }));
  } catch (error) {
    ui.addBubble("system", `Settings could not be loaded: ${error.message}`);
  }
  socket.connect();
  try {
    renderHistory(await api.history(HISTORY_TURNS));
  } catch {
    /* history is a convenience; the page works without it */
  }
  document.body.dataset.ready = "true";
}

// Read-only hooks for people debugging in the console (and the browser tests).
window.ballsy = Object.freeze({
  get spoken() {
    return speaker.log.slice();
  },
  get connected() {
    return socket.ready;
  },
  get clientId() {
    return socket.clientId;
  },
  get voiceWatch() {
    return { state: voiceWatch.state, opened: voiceWatch.opened };
  },
});

start();
