// Ballsy's page: wires identity, settings, the voice socket, speech in and out, and the UI.

import { Api, ApiError } from "./api.js";
import { canStream, Ears } from "./ears.js";
import { asksQuestion, LiveCapture } from "./live_listen.js";
import { AudioRecorder, BrowserRecognizer, canRecord, hasBrowserRecognition } from "./listener.js";
import { locationMessage, offerLocation, setupWeatherPlace } from "./location.js";
import {
  applyStoredTheme,
  applyTheme,
  browserTimezone,
  localPreferences,
  setupSettings,
} from "./settings.js";
import { VoiceSocket } from "./socket.js";
import { Speaker, rateFor } from "./speaker.js";
import { offerNotifications, ring, TimerList } from "./timers.js";
import * as ui from "./ui.js";
import { canWatchForVoice, rememberMicrophoneUse, VoiceWatch } from "./voice_activity.js";
import { BALLSY_VOICE, effectiveVoice, VoicePlayer } from "./voice_player.js";

const MAX_FRAME_BYTES = 64 * 1024;
const MAX_RECORDING_SECONDS = 30;
const CONVERSATION_MESSAGES = 40;
// How long the socket waits for the earlier conversation to be shown on load.
const EARLIER_WAIT_MS = 2000;
// A streamed reply can pause between sentences while the AI writes the next one: keep
// watching for the user's voice that long after speech stops before closing the microphone.
const VOICE_WATCH_LINGER_MS = 1_500;
// While Ballsy talks, these mean "stop talking": the page stops at once and sends nothing.
const STOP_WORDS =
  /^(?:(?:ok|okay|please)[, ]+)?(?:stop|stop it|stop talking|stop speaking|cancel|cancel that|be quiet|quiet|shut up|hush|never mind|nevermind|enough)[.!]*$/i;
// The server's fallback ends by offering a search; the page offers it as a button instead.
const SEARCH_OFFER = /\s*Let me (?:search the web for that|open a web search)\.\s*$/;
const NOT_REACHABLE = "Cannot reach Ballsy. Retrying by itself.";

const api = new Api();
const state = {
  settings: { voice: "", voice_speed: 180, theme: "system", timezone: browserTimezone() },
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
  followUp: false, // listen again once the reply is spoken (it asked a question, or hands-free)
  followUpAnswer: false, // the follow-up answers a question (so no wake word is awaited)
  voiceAwaited: null, // the turn whose reply Ballsy's voice has yet to finish (voice_done)
  wakeHeard: 0, // how many times the server heard the wake word on this page
  handsFreeOn: false, // hands-free mode is on and the user started it with a tap
  awaiting: [], // socket requests with no reply_start yet, oldest first: {kind, text, cancelled}
  held: [], // typed commands waiting for Ballsy to be reachable again: {command, note}
  lastTranscript: "", // what the server heard in the latest recording
  shownConversation: null, // the conversation opened from the list, if any
  turns: new Map(), // turn_id -> {bubble, cancelled, streamed, command}
  activeTurn: null, // the turn_id whose reply is streaming now
  rest: new Set(), // REST requests in flight: {cancelled}
  voice: { available: false, enabled: false, title: "" }, // Ballsy's own voice, per the server
  spokenBubbles: new Map(), // turn_id -> bubble of recent replies, for what was heard of them
};

const speaker = new Speaker({ onChange: () => refreshOrb() });
let timerList = null; // the timers dialog, once the page is wired
const player = new VoicePlayer({
  onChange: () => refreshOrb(),
  // Ballsy's voice was busy or failed mid-reply: the browser says the rest.
  onFallback: (text, turnId) => {
    speaker.push(`${text} `, turnId);
    speaker.finish(turnId);
  },
});
const voiceWatch = new VoiceWatch({ onVoice: (handover) => onVoiceWhileSpeaking(handover) });
// Ballsy's own ears: the open microphone streamed to the server (see ears.js).
const ears = new Ears({ onChange: (micState) => ui.setMicOpen(micState !== "off") });
let earsLinger = null;
let voiceWatchLinger = null;
const socket = new VoiceSocket({
  hello: () => ({ type: "hello", token: api.token, timezone: timezone() }),
  onMessage: (message) => onSocketMessage(message),
  onState: (connection, delay, info) => onConnectionState(connection, delay, info),
  onBinary: (data) => player.chunk(data),
});

/** Ballsy is talking, with either voice. */
function talking() {
  return speaker.speaking || player.speaking;
}

/** Replies on this socket are spoken by the server's voice (the browser's stays quiet). */
function serverVoiceOn() {
  return state.voice.enabled && state.local.speak;
}

/** Tell the server whether this page wants Ballsy's voice, and how fast. */
function sendVoiceConfig() {
  const wanted = effectiveVoice(state.settings.voice, speaker.voices(), true) === BALLSY_VOICE;
  socket.send({
    type: "voice",
    enabled: Boolean(wanted && state.local.speak),
    speed: rateFor(state.settings.voice_speed),
  });
}

function onVoiceConfig(message) {
  state.voice = {
    available: Boolean(message.available),
    enabled: Boolean(message.enabled),
    title: message.title || "",
  };
  refreshOrb();
}

/** The server stored what the user heard of a reply they talked over: show that. */
/** Ballsy's voice is done with a reply (spoken, handed to the browser's voice, or
 * stopped): a follow-up may listen once the audio has played out. */
function voiceFinished(message) {
  if (state.voiceAwaited === message.turn_id) state.voiceAwaited = null;
  refreshOrb();
}

function onVoiceStopped(message) {
  const bubble = state.spokenBubbles.get(message.turn_id);
  if (!bubble) return;
  bubble.text = message.heard || "";
  bubble.setStreaming(false);
  bubble.markInterrupted();
}

/** The settings' preview: a sentence in the chosen voice at the chosen speed. */
async function previewVoice(voice, wordsPerMinute) {
  const sample = "Hi, I'm Ballsy. This is how I sound.";
  bargeIn();
  if (voice === BALLSY_VOICE) {
    player.unlock();
    await player.playWav(await api.speech(sample, rateFor(wordsPerMinute)));
    return;
  }
  speaker.configure({ voice, wordsPerMinute });
  speaker.say(sample);
  applySettings({});
}

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
  if (state.listening && state.listening.wake) ui.setOrbState("waiting");
  else if (state.listening) ui.setOrbState("listening");
  else if (talking()) ui.setOrbState("speaking");
  else if (busy()) ui.setOrbState("thinking");
  else ui.setOrbState("idle");
  ui.setHearing(Boolean(state.listening && state.listening.hearing));
  updateVoiceWatch();
  maybeFollowUp();
}

/** Listen again without a click once the reply is spoken (a question, or hands-free). */
function maybeFollowUp() {
  if (!state.followUp || state.listening || talking() || busy()) return;
  if (state.voiceAwaited !== null) return; // Ballsy's voice has not spoken the reply yet
  state.followUp = false;
  // Hands-free with a wake word on the server: between turns, wait for it (unless the
  // reply asked something, which is answered straight away).
  const wake = state.handsFreeOn && Boolean(state.caps.wake_word) && !state.followUpAnswer;
  if (captureMode() === "server" && canStream && socket.ready) startStreaming({ ask: false, wake });
}

// --- interrupt by voice --------------------------------------------------------------------

/** Watch the microphone for the user's voice while Ballsy speaks, and only then. */
function updateVoiceWatch() {
  const mode = captureMode();
  if (mode === "server" && canStream) {
    if (voiceWatch.armed) stopVoiceWatch();
    updateEars();
    return;
  }
  const allowed = state.local.interruptByVoice && !state.listening && mode !== "none";
  if (allowed && talking()) {
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

/**
 * Keep Ballsy's ears open while they may be needed: while listening, while Ballsy thinks or
 * speaks (watching for the user talking over it, with the pre-roll kept), while a follow-up
 * is due, and in hands-free mode. Closed a moment after none of these holds.
 */
function updateEars() {
  const streaming = Boolean(state.listening && state.listening.kind === "stream");
  const watch =
    state.local.interruptByVoice && !state.listening && (speaker.speaking || busy());
  const keep = streaming || watch || state.followUp || state.handsFreeOn;
  if (keep) {
    clearTimeout(earsLinger);
    earsLinger = null;
  }
  if (watch) {
    if (ears.state === "off") ears.openMicrophone().then(() => updateEars());
    else if (ears.open && !ears.watching) ears.watch(onVoiceFromEars);
    return;
  }
  if (ears.watching) ears.unwatch();
  if (!keep && ears.state !== "off" && earsLinger === null) {
    earsLinger = setTimeout(() => {
      earsLinger = null;
      ears.closeMicrophone();
    }, VOICE_WATCH_LINGER_MS);
  }
}

/** The user started talking while Ballsy thought or spoke: barge in, stream from the pre-roll. */
function onVoiceFromEars() {
  if (state.listening || !state.local.interruptByVoice) return;
  bargeIn();
  startStreaming({ ask: false });
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
  // Ballsy's voice stops at once; the server hears how much was played, stops the reply
  // and stores what was heard (its voice_played also stops a reply still being written).
  const heard = player.stop();
  if (heard) socket.send({ type: "voice_played", ...heard });
  speaker.cancel();
  stopVoiceWatch();
  if (state.activeTurn !== null && heard && heard.turn_id === state.activeTurn) {
    const turn = state.turns.get(state.activeTurn);
    if (turn) turn.cancelled = true;
    if (turn && turn.bubble) turn.bubble.setStreaming(false);
    state.activeTurn = null;
  }
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
  if (state.listening && state.listening.wake) {
    // Waiting for the wake word: a tap is a shortcut to talk now (hands-free stays on).
    state.listening.end();
    state.listening = null;
    startStreaming({ ask: true });
    return;
  }
  if (state.listening) {
    state.handsFreeOn = false; // a tap while listening ends hands-free listening too
    stopListening();
    return;
  }
  if (talking() || busy()) {
    bargeIn(); // one tap stops Ballsy; the next one listens
    return;
  }
  startListening();
}

// --- sending commands ----------------------------------------------------------------------

async function sendCommand(text) {
  const command = text.trim();
  if (!command) return;
  player.unlock(); // a user gesture: the page may play audio from now on
  if (STOP_WORDS.test(command) && (talking() || busy())) {
    ui.addBubble("user", command);
    bargeIn();
    ui.addBubble("system", "Stopped.");
    return;
  }
  bargeIn();
  const bubble = ui.addBubble("user", command);
  await dispatch(command, bubble);
}

async function dispatch(command, bubble) {
  if (socket.send({ type: "command", command })) {
    state.awaiting.push({ kind: "command", text: command, cancelled: false });
    refreshOrb();
    return;
  }
  // No socket: the server may still answer over HTTP (a proxy without WebSockets); if it
  // cannot be reached at all the command is kept and sent when Ballsy is back.
  await viaRest(() => api.command(command, timezone()), { command, bubble });
}

/** Keep a typed command until the connection is back, and say so on it. */
function hold(command, bubble) {
  const note = bubble.addNote("Not sent yet: Ballsy is offline. It will be sent when Ballsy is back.");
  note.classList.add("held-note");
  bubble.element.dataset.held = "true";
  state.held.push({ command, bubble, note });
}

/** The connection is back: send what was typed while it was down, in order. */
function sendHeld() {
  const held = state.held;
  state.held = [];
  for (const { command, bubble, note } of held) {
    note.remove();
    delete bubble.element.dataset.held;
    if (socket.send({ type: "command", command })) {
      state.awaiting.push({ kind: "command", text: command, cancelled: false });
    } else {
      hold(command, bubble);
    }
  }
  refreshOrb();
}

/** The REST fallback while the socket is down: one request, one whole reply. */
async function viaRest(call, typed = null) {
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
    const command = typed ? typed.command : result.transcript || "";
    const spoken = performAction(result.action, result.data, bubble, { command });
    speaker.say(spoken);
  } catch (error) {
    ui.setInterim("");
    if (typed && !(error instanceof ApiError) && !request.cancelled) hold(typed.command, typed.bubble);
    else ui.addBubble("system", describeError(error.code, error.message, error.retryAfter));
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
    case "partial":
      return onPartial(message);
    case "speech_end":
      return onSpeechEnd(message);
    case "wake":
      return onWake();
    case "transcript":
      ui.setInterim("");
      state.lastTranscript = message.text || "";
      ui.addBubble("user", message.text || "");
      return undefined;
    case "timer_fired":
      return timerFired(message);
    case "voice":
      return onVoiceConfig(message);
    case "voice_start":
      return player.start(message);
    case "voice_end":
      return player.end(message);
    case "voice_done":
      player.done(message);
      return voiceFinished(message);
    case "voice_fallback":
      player.fallback(message); // the browser's voice speaks the rest (talking() covers it)
      return voiceFinished(message);
    case "voice_stopped":
      onVoiceStopped(message);
      return voiceFinished(message);
    case "error":
      return socketError(message);
    case "_closed":
      return connectionLost();
    default:
      return undefined; // status_update and anything newer than this page
  }
}

/** A timer, alarm or reminder of this user is due (on every page of theirs). */
function timerFired(message) {
  state.lastRing = ring(message, {
    // Spoken at once (over a reply being read out), but never into a recording (waiting
    // for the wake word is no recording: hands-free users hear their timers too).
    say: (text) => {
      if (!state.listening || state.listening.wake) speaker.say(text);
    },
    show: (text) => ui.addBubble("system", text),
  });
  if (timerList) timerList.refresh();
  refreshOrb();
}

/** Words heard so far in the live stream. */
function onPartial(message) {
  const capture = state.listening;
  if (!capture || capture.kind !== "stream") return;
  ui.setInterim(message.text || "");
  capture.heard();
  refreshOrb();
}

/** The server heard the wake word on the hands-free stream: the command follows on it. */
function onWake() {
  const capture = state.listening;
  if (!capture || capture.kind !== "stream" || !capture.wake) return;
  state.wakeHeard += 1;
  capture.woke();
  ui.setInterim("");
  refreshOrb();
}

/** The server stopped taking the live stream: the transcript and the reply follow,
 * unless nobody spoke. */
function onSpeechEnd(message) {
  const capture = state.listening;
  if (capture && capture.kind === "stream") {
    capture.end();
    state.listening = null;
  }
  if (message.reason === "no_speech") {
    ui.setInterim("");
    state.followUp = state.handsFreeOn; // hands-free keeps listening
    state.followUpAnswer = false;
  } else {
    state.awaiting.push({ kind: "audio", cancelled: false });
  }
  refreshOrb();
}

function startTurn(message) {
  const request = state.awaiting.shift() || { kind: "unknown", cancelled: false };
  const command = request.kind === "audio" ? state.lastTranscript : request.text || "";
  const turn = { bubble: null, cancelled: request.cancelled, streamed: false, command };
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
  if (serverVoiceOn()) player.begin(message.turn_id);
  state.spokenBubbles.set(message.turn_id, turn.bubble);
  if (state.spokenBubbles.size > 20) state.spokenBubbles.delete(state.spokenBubbles.keys().next().value);
  refreshOrb();
}

function continueTurn(message) {
  const turn = state.turns.get(message.turn_id);
  if (!turn || turn.cancelled || !turn.bubble) return;
  turn.streamed = true;
  turn.bubble.append(message.text || "");
  if (!serverVoiceOn()) speaker.push(message.text || "", message.turn_id);
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
  bubble.setSource(message.source, message.model);
  if (message.interrupted) {
    bubble.markInterrupted();
    refreshOrb();
    return;
  }
  const spoken = performAction(message.action, message.data, bubble, {
    family: message.family,
    command: turn ? turn.command : "",
  });
  if (bubble.element.dataset.fallback === "true" && message.source === "ai") {
    bubble.setFallback(message.model);
  }
  // Listen again once the reply has been spoken, by whichever voice speaks it.
  state.followUpAnswer = asksQuestion(bubble.text);
  if (state.handsFreeOn || state.followUpAnswer) state.followUp = true;
  if (serverVoiceOn()) {
    state.voiceAwaited = message.turn_id; // the server speaks it: voice_start … voice_done
  } else {
    if (!turn || !turn.streamed) speaker.push(`${spoken} `, message.turn_id);
    speaker.finish(message.turn_id);
  }
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
    const command = request ? request.text || "" : "";
    speaker.say(performAction(reply.action, reply.data, bubble, { command }));
  }
  refreshOrb();
}

function socketError(message) {
  ui.setInterim("");
  endRefusedWakeStream(message.code);
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

/** The server could not take (or pay for) a hands-free stream: stop waiting for the wake
 * word rather than stream into a stream it drops. */
function endRefusedWakeStream(code) {
  const capture = state.listening;
  if (!capture || capture.kind !== "stream" || !capture.wakeStream) return;
  if (!["rate_limited", "busy", "feature_unavailable", "provider_unavailable"].includes(code)) return;
  capture.end();
  state.listening = null;
  state.handsFreeOn = false;
}

function connectionLost() {
  if (state.listening && state.listening.kind === "stream") {
    state.listening.end();
    state.listening = null;
    ui.setInterim("");
  }
  state.followUp = false;
  state.voiceAwaited = null;
  const unanswered = state.awaiting.filter((request) => !request.cancelled);
  state.awaiting = [];
  if (state.activeTurn !== null) {
    const turn = state.turns.get(state.activeTurn);
    if (turn && turn.bubble) {
      turn.bubble.setStreaming(false);
      turn.bubble.addNote("The connection dropped before the reply finished.");
      if (turn.command) offerRetry(turn.bubble, turn.command);
    }
  }
  state.turns.clear();
  state.activeTurn = null;
  // A typed command with no reply yet is sent again once Ballsy is back.
  const spoken = unanswered.filter((request) => request.kind !== "command" || !request.text);
  for (const request of unanswered) {
    if (request.kind === "command" && request.text) {
      hold(request.text, ui.addBubble("system", `Waiting to send “${request.text}”.`));
    }
  }
  if (spoken.length) ui.addBubble("system", "The connection dropped before Ballsy answered. Please try again.");
  refreshOrb();
}

function onConnectionState(connection, delay, info) {
  if (connection === "connected") {
    sendVoiceConfig();
    ui.setConnection("connected", info && info.reconnected ? "Reconnected" : "Connected");
    ui.setOffline(false);
    const location = locationMessage();
    if (location) socket.send(location);
    sendHeld();
  } else if (connection === "reconnecting" && delay > 0) {
    const seconds = Math.max(1, Math.round(delay / 1000));
    ui.setConnection("reconnecting", `Offline, retrying in ${seconds} s`);
    ui.setOffline(true, NOT_REACHABLE);
  } else if (connection === "reconnecting") {
    ui.setConnection("reconnecting", "Reconnecting…");
  } else if (connection === "offline") {
    ui.setConnection("offline", "No network");
    ui.setOffline(true, "This device has no network. Ballsy reconnects when it is back.");
  } else {
    ui.setConnection("connecting", "Connecting…");
  }
}

function describeError(code, message, retryAfter) {
  if (code === "no_speech") return "I didn't catch that. Try again, or type your command.";
  if (!code) return "Could not reach Ballsy. Check the connection and try again.";
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

function searchUrl(query) {
  return `https://www.google.com/search?q=${encodeURIComponent(query)}`;
}

function offerRetry(bubble, command, extra = []) {
  const actions = bubble.addActions([{ label: "Retry", onClick: () => sendCommand(command) }, ...extra]);
  actions.dataset.for = "retry";
}

/**
 * Carry out a reply's action and return what to say aloud. A tab opens only when the
 * user asked for it; when the AI could not answer, the reply offers Retry and a search
 * instead of opening one by itself.
 */
function performAction(action, data, bubble, { family = null, command = "" } = {}) {
  const details = data || {};
  if (action === "open_url" && details.url) {
    openInNewTab(details.url, details.description || details.url, bubble);
  } else if (action === "search" && family === "search") {
    openInNewTab(searchUrl(details.query || ""), `Search the web for “${details.query}”`, bubble);
  } else if (action === "search") {
    bubble.text = bubble.text.replace(SEARCH_OFFER, "");
    bubble.element.dataset.fallback = "true";
    const query = details.query || command;
    const search = {
      label: "Search the web",
      onClick: () => openInNewTab(searchUrl(query), `Search the web for “${query}”`, bubble),
    };
    if (command) offerRetry(bubble, command, [search]);
    else bubble.addActions([search]);
  } else if (action === "ask_location") {
    offerLocation(bubble, { send: (message) => socket.send(message), retry: () => sendCommand(command) });
  } else if (action === "timer_set" || action === "timer_cancelled") {
    if (action === "timer_set") offerNotifications();
    if (timerList) timerList.refresh();
  } else if (action === "exit") {
    stopListening();
    ui.setCaption("Tap the orb whenever you need me.");
  }
  return bubble.text;
}

/** What a stored reply did, shown again as a link when a conversation is reopened. */
function restoreAction(action, data, bubble) {
  const details = data || {};
  const href = action === "open_url" ? safeUrl(details.url || "") : null;
  if (href) bubble.addLink(href, details.description || href, "Opened:");
}

// --- speech in -----------------------------------------------------------------------------

/**
 * Ballsy's own recognition (the server's model) unless the user chose the browser's
 * (in Chrome that sends their voice to Google), and that only while it works.
 */
function captureMode() {
  const browserOk = hasBrowserRecognition && !state.browserRecognitionFailed;
  const serverOk = (canStream || canRecord) && state.caps.stt;
  if (state.local.browserRecognition && browserOk) return "browser";
  if (serverOk) return "server";
  if (state.local.browserRecognition && browserOk) return "browser";
  return "none";
}

/** Listen for a command; `takeOver` is a capture interrupting by voice already began. */
function startListening(takeOver = null) {
  const mode = state.listening ? "busy" : captureMode();
  if (mode === "server" && canStream && !takeOver) {
    if (state.local.handsFree) state.handsFreeOn = true;
    startStreaming({ ask: true });
    return;
  }
  if (mode === "server") {
    startRecording(takeOver);
    return;
  }
  if (takeOver) takeOver.release(); // browser recognition opens the microphone itself
  if (mode === "browser") startRecognition();
  else if (mode === "none") {
    ui.setCaption(
      state.caps.stt
        ? "Speech input is not available in this browser. Type your command below."
        : "Speech recognition is off on this server. Type, or turn on the browser's in Settings.",
    );
  }
}

/** Listen with Ballsy's own recognition: stream the microphone to the server. `ask`: the
 * user asked (a tap), so the browser may prompt for the microphone. */
async function startStreaming({ ask = true, wake = false } = {}) {
  if (state.listening) return;
  const capture = new LiveCapture({
    ears,
    socket,
    wake: wake ? state.caps.wake_word : null,
    onHearing: () => refreshOrb(),
    onLevel: (level) => ui.setLevel(level),
    onFailed: () => {
      if (state.listening !== capture) return;
      state.listening = null;
      ui.setInterim("");
      ui.addBubble("system", "The connection dropped while listening. Please try again.");
      refreshOrb();
    },
  });
  state.listening = capture;
  ui.setInterim("");
  refreshOrb();
  const problem = await ears.openMicrophone({ ask });
  if (state.listening !== capture) return; // stopped while the microphone opened
  if (problem || capture.stopAsked) {
    state.listening = null;
    state.handsFreeOn = false;
    if (problem && ask) ui.addBubble("system", `${recognitionErrorText(problem)}`);
    refreshOrb();
    return;
  }
  rememberMicrophoneUse();
  if (!capture.start()) {
    state.listening = null;
    ui.addBubble("system", "Ballsy is not connected yet, so it cannot listen. Type, or try again.");
  }
  refreshOrb();
}

function stopListening() {
  const capture = state.listening;
  if (!capture) return;
  if (capture.kind === "browser") capture.recognizer.stop();
  else if (capture.kind === "stream") capture.stop();
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
      // Anything but a refused permission falls back to Ballsy's own recognition: e.g. a
      // Chromium without Google's speech service says "audio-capture" or "network".
      if (code !== "not-allowed" && (canStream || canRecord) && state.caps.stt) {
        state.browserRecognitionFailed = true;
        startListening();
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
  if (code === "unavailable") return "This browser cannot stream the microphone. You can still type.";
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

async function finishRecording(capture, { blob, mime, cancelled = false }) {
  if (cancelled) {
    if (state.listening === capture) state.listening = null;
    ui.setInterim("");
    refreshOrb();
    return;
  }
  state.listening = null;
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
  if (socket.ready) sendVoiceConfig();
}

async function saveSettings(patch, local) {
  const zoneChanged = patch.timezone !== state.settings.timezone;
  const saved = await api.saveSettings(patch);
  state.local = local;
  applySettings(saved);
  updateVoiceWatch();
  if (zoneChanged && socket.ready) socket.reconnectNow(); // the hello carries the time zone
}

function renderMessages(messages) {
  for (const message of messages) {
    if (message.role === "user") {
      ui.addBubble("user", message.text).element.classList.add("past");
      continue;
    }
    const bubble = ui.addBubble("assistant", message.text);
    bubble.element.classList.add("past");
    bubble.setSource(message.source, null);
    if (message.interrupted) bubble.markInterrupted();
    else restoreAction(message.action, message.data, bubble);
  }
}

/** The latest conversation's messages (null when there is none), for `showEarlier`. */
async function latestConversation() {
  const [latest] = await api.conversations(1);
  if (!latest || !latest.messages) return null;
  const detail = await api.conversation(latest.conversation_id);
  return detail.messages.slice(-CONVERSATION_MESSAGES);
}

/**
 * On load: the latest conversation, so what was said (and opened) survives a reload. Left
 * out once something has been said on this page (typed in the moment before the socket
 * connects, it went over HTTP): it would land below that, or show it twice.
 */
function showEarlier(messages) {
  if (!messages || !messages.length || ui.hasLiveMessages()) return;
  ui.addDivider("Earlier");
  renderMessages(messages);
  ui.addDivider("Now");
}

/**
 * Show the earlier conversation before the socket connects, so nothing said on this page
 * can land above it (or be shown twice, once in it). A history slower than
 * EARLIER_WAIT_MS does not hold the socket back: it is shown when it comes, if nothing has
 * been said yet.
 */
async function showEarlierThenConnect() {
  const earlier = latestConversation().catch(() => null);
  const timedOut = new Promise((resolve) => setTimeout(() => resolve(undefined), EARLIER_WAIT_MS));
  const messages = await Promise.race([earlier, timedOut]);
  if (messages !== undefined) showEarlier(messages);
  socket.connect();
  if (messages !== undefined) return;
  showEarlier(await earlier);
}

async function newConversation() {
  bargeIn();
  try {
    await api.newConversation();
    state.shownConversation = null;
    ui.clearConversation();
    ui.addDivider("New conversation");
  } catch (error) {
    ui.addBubble("system", describeError(error.code, error.message, error.retryAfter));
  }
}

// --- the conversation list ----------------------------------------------------------------

function formatWhen(iso) {
  try {
    return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch {
    return iso;
  }
}

function conversationItem(item) {
  const li = document.createElement("li");
  li.className = "conversation-item";
  li.dataset.id = String(item.conversation_id);
  const open = document.createElement("button");
  open.type = "button";
  open.className = "conversation-open";
  const title = document.createElement("span");
  title.className = "conversation-title";
  title.textContent = item.title || "(nothing said yet)";
  const meta = document.createElement("span");
  meta.className = "conversation-meta";
  const count = `${item.messages} message${item.messages === 1 ? "" : "s"}`;
  meta.textContent = `${formatWhen(item.last_activity_at || item.started_at)} · ${count}`;
  open.append(title, meta);
  open.addEventListener("click", () => openConversation(item.conversation_id));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "pill-button conversation-delete";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete “${title.textContent}”`);
  remove.addEventListener("click", () => deleteConversation(item, li, remove));
  li.append(open, remove);
  return li;
}

async function showConversations() {
  const dialog = document.getElementById("conversations");
  const list = document.getElementById("conversation-list");
  const status = document.getElementById("conversations-status");
  list.replaceChildren();
  status.textContent = "Loading…";
  dialog.showModal();
  try {
    const items = await api.conversations();
    list.replaceChildren(...items.map(conversationItem));
    status.textContent = items.length ? "" : "No conversations yet.";
  } catch (error) {
    status.textContent = describeError(error.code, error.message, error.retryAfter);
  }
}

/** Show a conversation and make it the open one: what is said next continues it. */
async function openConversation(id) {
  const status = document.getElementById("conversations-status");
  bargeIn();
  try {
    const detail = await api.conversation(id);
    await api.continueConversation(id);
    ui.clearConversation();
    ui.addDivider(`Conversation from ${formatWhen(detail.started_at)}`);
    renderMessages(detail.messages.slice(-CONVERSATION_MESSAGES));
    ui.addDivider("Continue below");
    state.shownConversation = id;
    document.getElementById("conversations").close();
  } catch (error) {
    status.textContent = describeError(error.code, error.message, error.retryAfter);
  }
}

/** Delete on a second press, so one slip of the finger loses nothing. */
async function deleteConversation(item, li, button) {
  const status = document.getElementById("conversations-status");
  if (button.dataset.confirm !== "true") {
    button.dataset.confirm = "true";
    button.textContent = "Really delete?";
    return;
  }
  try {
    await api.deleteConversation(item.conversation_id);
    li.remove();
    status.textContent = "Deleted.";
    if (state.shownConversation === item.conversation_id) {
      state.shownConversation = null;
      ui.clearConversation();
    }
  } catch (error) {
    status.textContent = describeError(error.code, error.message, error.retryAfter);
  }
}

/** Warn before a command over the limit is sent: nothing is cut without the user asking. */
function checkLength() {
  const input = document.getElementById("command-input");
  const max = state.caps.max_command_chars;
  const length = input.value.trim().length;
  const tooLong = length > max;
  document.getElementById("too-long").hidden = !tooLong;
  document.getElementById("send").disabled = tooLong;
  input.setAttribute("aria-invalid", tooLong ? "true" : "false");
  if (tooLong) {
    document.getElementById("too-long-text").textContent =
      `That is ${length.toLocaleString()} characters; Ballsy takes at most ` +
      `${max.toLocaleString()}. Shorten it, or cut it to the first ${max.toLocaleString()}.`;
    document.getElementById("shorten").textContent = `Cut to ${max.toLocaleString()} characters`;
  }
  return !tooLong;
}

function anyDialogOpen() {
  return [...document.querySelectorAll("dialog")].some((dialog) => dialog.open);
}

/** Space talks only where it would not type or press something. */
function spaceIsFree(target) {
  return !(target instanceof Element && target.closest("input, textarea, select, button, a, [contenteditable]"));
}

let pushToTalk = false;

function wireKeys() {
  document.addEventListener("keydown", (event) => {
    if (anyDialogOpen()) return;
    if (event.key === "Escape") {
      state.handsFreeOn = false;
      if (state.listening) stopListening();
      else bargeIn();
      return;
    }
    if (event.code !== "Space" || !spaceIsFree(event.target)) return;
    event.preventDefault(); // no page scroll
    if (event.repeat || pushToTalk) return;
    pushToTalk = true;
    bargeIn();
    if (!state.listening) startListening();
    if (state.listening) ui.setCaption("Listening… let go of Space when you are done.");
  });
  document.addEventListener("keyup", (event) => {
    if (event.code !== "Space" || !pushToTalk) return;
    event.preventDefault();
    pushToTalk = false;
    stopListening();
  });
  // Letting go of Space outside the page must not leave the microphone open.
  window.addEventListener("blur", () => {
    if (!pushToTalk) return;
    pushToTalk = false;
    stopListening();
  });
}

function wireControls() {
  // Browsers let a page play audio only after a user gesture: wake Ballsy's voice on one.
  document.addEventListener("pointerdown", () => player.unlock());
  document.addEventListener("keydown", () => player.unlock());
  document.getElementById("orb").addEventListener("click", onOrbClick);
  document.getElementById("stop").addEventListener("click", () => {
    state.handsFreeOn = false;
    state.followUp = false;
    if (state.listening) stopListening();
    bargeIn();
  });
  document.getElementById("retry-now").addEventListener("click", retryNow);
  const input = document.getElementById("command-input");
  input.addEventListener("input", checkLength);
  document.getElementById("shorten").addEventListener("click", () => {
    input.value = input.value.trim().slice(0, state.caps.max_command_chars);
    checkLength();
    input.focus();
  });
  document.getElementById("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!checkLength()) return;
    const text = input.value;
    input.value = "";
    sendCommand(text);
  });
  for (const example of document.querySelectorAll("#examples .example")) {
    example.addEventListener("click", () => sendCommand(example.textContent));
  }
  document.getElementById("new-conversation").addEventListener("click", newConversation);
  document.getElementById("open-conversations").addEventListener("click", showConversations);
  timerList = new TimerList({ api, describeError });
  document.getElementById("conversations-close").addEventListener("click", () => {
    document.getElementById("conversations").close();
  });
  wireKeys();
  setupSettings({
    getState: () => ({ settings: state.settings, local: state.local }),
    voices: () => speaker.voices(),
    save: saveSettings,
    canInterruptByVoice: canWatchForVoice,
    ballsyVoice: () => state.voice,
    preview: previewVoice,
  });
  setupWeatherPlace({ send: (message) => socket.send(message) });
}

let wakeSessionRetry = null;

/** "Retry now": try at once instead of waiting out the back-off. */
function retryNow() {
  if (wakeSessionRetry) wakeSessionRetry();
  else socket.reconnectNow();
}

/** Find or create the identity, retrying with backoff while the server is unreachable. */
async function establishSession() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const session = await api.ensureSession();
      ui.setOffline(false);
      return session;
    } catch (error) {
      const delay = Math.min(10_000, 500 * 2 ** attempt);
      ui.setConnection("reconnecting", `Cannot reach Ballsy, retrying in ${Math.round(delay / 1000) || 1} s`);
      ui.setOffline(true, NOT_REACHABLE);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        wakeSessionRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeSessionRetry = null;
    }
  }
}

async function start() {
  applyStoredTheme();
  ui.clearConversation(); // shows the example requests until something is said
  wireControls();
  refreshOrb();
  const { created } = await establishSession();
  state.ready = true;
  try {
    state.caps = { ...state.caps, ...(await api.capabilities()) };
    if (state.caps.wake_word) ui.setWakePhrase(state.caps.wake_word);
  } catch {
    /* keep the defaults; the server still answers errors clearly */
  }
  checkLength();
  try {
    let settings = await api.getSettings();
    // A new identity starts by following the device's light or dark mode (the server's
    // default is light): saved before it is applied, so the page never flips.
    if (created) settings = await api.saveSettings({ timezone: browserTimezone(), theme: "system" });
    else if (!settings.timezone) settings = await api.saveSettings({ timezone: browserTimezone() });
    applySettings(settings);
  } catch (error) {
    ui.addBubble("system", `Settings could not be loaded: ${error.message}`);
  }
  // The earlier conversation is a convenience: the page works without it.
  await showEarlierThenConnect();
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
  get lastRing() {
    return state.lastRing || null;
  },
  get userId() {
    return api.userId;
  },
  get voiceWatch() {
    if (captureMode() === "server" && canStream) {
      const watching = ears.watching ? "watching" : ears.state === "off" ? "off" : "open";
      return { state: watching, opened: ears.opened };
    }
    return { state: voiceWatch.state, opened: voiceWatch.opened };
  },
  get ears() {
    return { state: ears.state, opened: ears.opened, voiceHeard: ears.voiceHeard };
  },
  // Hands-free waiting for the wake word: whether it waits now, the seconds of audio sent
  // while it waited (this stream), and how many times the wake word was heard.
  get wake() {
    const capture = state.listening;
    const waiting = Boolean(capture && capture.kind === "stream" && capture.wake);
    return {
      phrase: state.caps.wake_word || null,
      waiting,
      waitedSeconds: waiting ? capture.wakeBytes / 32000 : 0,
      heard: state.wakeHeard,
    };
  },
  // Ballsy's own voice: what the server offers, and every sentence played with Web Audio.
  get voice() {
    return {
      ...state.voice,
      speaking: player.speaking,
      scheduled: player.scheduled.length,
      audioState: player.context ? player.context.state : "none",
      audioTime: player.context ? player.context.currentTime : 0,
    };
  },
  get played() {
    return player.log.slice();
  },
});

start();
