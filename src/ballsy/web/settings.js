// The settings dialog: voice, speed, theme and time zone saved on the server; speech
// preferences that only concern this browser kept in localStorage.

import { BALLSY_VOICE, BROWSER_DEFAULT, effectiveVoice } from "./voice_player.js";

const $ = (id) => document.getElementById(id);
const LOCAL_KEYS = {
  speak: "ballsy.speak",
  // "browser" only when the user chose the browser's recognition; Ballsy's own otherwise.
  // (A new key: the earlier "ballsy.stt" was written as "browser" by any save.)
  recognition: "ballsy.recognition",
  handsFree: "ballsy.handsFree",
  interruptByVoice: "ballsy.interrupt",
  theme: "ballsy.theme",
};

export function browserTimezone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function stored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}

/** Local (per-browser) preferences; `?stt=browser` (or `server`) in the address chooses
 * the browser's (or Ballsy's own) speech recognition. */
export function localPreferences() {
  const forced = new URLSearchParams(window.location.search).get("stt");
  if (forced === "server" || forced === "browser") store(LOCAL_KEYS.recognition, forced);
  return {
    speak: stored(LOCAL_KEYS.speak) !== "off",
    browserRecognition: stored(LOCAL_KEYS.recognition) === "browser",
    handsFree: stored(LOCAL_KEYS.handsFree) === "on",
    interruptByVoice: stored(LOCAL_KEYS.interruptByVoice) !== "off",
  };
}

const THEMES = new Set(["light", "dark", "system"]);
const systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
let chosenTheme = "system";

function resolvedTheme() {
  if (chosenTheme !== "system") return chosenTheme;
  return systemDark && systemDark.matches ? "dark" : "light";
}

function showTheme() {
  const root = document.documentElement;
  const value = resolvedTheme();
  if (root.dataset.theme !== value) root.dataset.theme = value;
  root.dataset.themeChoice = chosenTheme;
}

// "System" follows the device as it switches between light and dark.
if (systemDark) systemDark.addEventListener("change", showTheme);

/** Apply a theme choice ("light", "dark" or "system"); anything else is ignored. */
export function applyTheme(theme) {
  if (!THEMES.has(theme)) return;
  chosenTheme = theme;
  store(LOCAL_KEYS.theme, theme); // applied before the settings arrive on the next visit
  showTheme();
}

/** Before the server answers: this browser's last choice, else the device's mode. */
export function applyStoredTheme() {
  const theme = stored(LOCAL_KEYS.theme);
  chosenTheme = THEMES.has(theme) ? theme : "system";
  showTheme();
}

function option(value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  return element;
}

/** Ballsy's voice (when the server has it), the browser's default, and this device's
 * voices; a saved voice this device lacks shows as the default it falls back to. */
function fillVoices(voices, selected, ballsy) {
  const select = $("setting-voice");
  const options = [];
  if (ballsy.available) options.push(option(BALLSY_VOICE, `${ballsy.title || "Ballsy"} (from the server)`));
  options.push(option(BROWSER_DEFAULT, "Browser default"));
  const names = new Set();
  for (const voice of voices) {
    if (names.has(voice.name) || voice.name === BALLSY_VOICE || voice.name === BROWSER_DEFAULT) continue;
    names.add(voice.name);
    options.push(option(voice.name, `${voice.name} (${voice.lang})`));
  }
  select.replaceChildren(...options);
  select.value = effectiveVoice(selected, voices, ballsy.available);
}

function fillTimezones(selected) {
  const select = $("setting-timezone");
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  const all = new Set(zones);
  all.add("UTC");
  all.add(browserTimezone());
  if (selected) all.add(selected);
  select.replaceChildren(...[...all].sort().map((zone) => option(zone, zone.replaceAll("_", " "))));
  select.value = selected || browserTimezone();
}

/**
 * Wires the dialog. `save(patch, local)` persists the server part and applies both;
 * `getState()` returns {settings, local} to show; `voices()` lists the synthesiser's voices;
 * `canInterruptByVoice` says whether this browser can watch the microphone while Ballsy speaks.
 */
export function setupSettings({
  getState,
  voices,
  save,
  canInterruptByVoice = true,
  ballsyVoice = () => ({ available: false, title: "" }),
  preview = async () => {},
}) {
  const dialog = $("settings");
  const form = $("settings-form");
  const speed = $("setting-speed");
  const speedValue = $("setting-speed-value");
  const message = $("settings-message");
  const interrupt = $("setting-interrupt");
  if (!canInterruptByVoice) {
    interrupt.disabled = true;
    $("setting-interrupt-hint").textContent = "This browser cannot listen while Ballsy speaks.";
  }

  const show = () => {
    const { settings, local } = getState();
    fillVoices(voices(), settings.voice, ballsyVoice());
    fillTimezones(settings.timezone);
    speed.value = String(settings.voice_speed || 180);
    speedValue.textContent = speed.value;
    const theme = THEMES.has(settings.theme) ? settings.theme : "system";
    $(`theme-${theme}`).checked = true;
    $("setting-speak").checked = local.speak;
    $("setting-browser-stt").checked = local.browserRecognition;
    $("setting-hands-free").checked = local.handsFree;
    interrupt.checked = local.interruptByVoice;
    message.textContent = "";
  };

  speed.addEventListener("input", () => {
    speedValue.textContent = speed.value;
  });
  $("open-settings").addEventListener("click", () => {
    show();
    dialog.showModal();
  });
  $("settings-cancel").addEventListener("click", () => dialog.close());
  $("voice-preview").addEventListener("click", async () => {
    message.textContent = "";
    try {
      await preview($("setting-voice").value, Number(speed.value));
    } catch (error) {
      message.textContent = `Could not play the preview: ${error.message}`;
    }
  });
  if ("speechSynthesis" in window) {
    window.speechSynthesis.addEventListener("voiceschanged", () => {
      if (dialog.open) fillVoices(voices(), $("setting-voice").value, ballsyVoice());
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const patch = {
      voice: String(data.get("voice") || BROWSER_DEFAULT),
      voice_speed: Number(data.get("voice_speed")),
      theme: String(data.get("theme") || "system"),
      timezone: String(data.get("timezone") || browserTimezone()),
    };
    const local = {
      speak: data.get("speak") === "on",
      browserRecognition: data.get("browser_stt") === "on",
      handsFree: data.get("hands_free") === "on",
      // A disabled box is not in the form data: keep the stored choice.
      interruptByVoice: interrupt.disabled
        ? getState().local.interruptByVoice
        : data.get("interrupt_by_voice") === "on",
    };
    store(LOCAL_KEYS.speak, local.speak ? "on" : "off");
    store(LOCAL_KEYS.recognition, local.browserRecognition ? "browser" : "server");
    store(LOCAL_KEYS.handsFree, local.handsFree ? "on" : "off");
    store(LOCAL_KEYS.interruptByVoice, local.interruptByVoice ? "on" : "off");
    $("settings-save").disabled = true;
    message.textContent = "Saving…";
    try {
      await save(patch, local);
      message.textContent = "Saved.";
      dialog.close();
    } catch (error) {
      message.textContent = `Could not save: ${error.message}`;
    } finally {
      $("settings-save").disabled = false;
    }
  });
}
