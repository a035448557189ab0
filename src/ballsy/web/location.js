// Where weather questions are about. The page asks the browser for its position only
// when the user asks for the weather without naming a place and then presses
// "Use my location" (the browser asks for permission too). The position, rounded to
// about a kilometre, stays in this browser and is sent to the socket after each hello.

const KEY = "ballsy.weatherLocation";
const PLACE_KEY = "ballsy.weatherPlace";

function round(value) {
  return Math.round(value * 100) / 100;
}

/** The position the user shared earlier, or null. */
export function sharedLocation() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) || "null");
    if (stored && Number.isFinite(stored.latitude) && Number.isFinite(stored.longitude)) {
      return { latitude: stored.latitude, longitude: stored.longitude };
    }
  } catch {
    /* unreadable: as if never shared */
  }
  return null;
}

/** The place the user set for the weather on this device ("" when none). */
export function weatherPlace() {
  return (localStorage.getItem(PLACE_KEY) || "").trim();
}

/** The socket message that tells the server where the weather is about, or null. */
export function locationMessage() {
  const shared = sharedLocation();
  const place = weatherPlace();
  if (!shared && !place) return null;
  return { type: "location", ...(shared || {}), ...(place ? { place } : {}) };
}

/**
 * The settings dialog's "Weather place" field: filled when the dialog opens, stored in
 * this browser and sent to the socket when the form is saved. (Kept here, beside the
 * rest of the weather's page code.)
 */
export function setupWeatherPlace({ send }) {
  const field = document.getElementById("setting-weather-place");
  const opener = document.getElementById("open-settings");
  const form = document.getElementById("settings-form");
  if (!field || !opener || !form) return;
  opener.addEventListener("click", () => {
    field.value = weatherPlace();
  });
  form.addEventListener("submit", () => {
    const place = field.value.trim().slice(0, 100);
    if (place) localStorage.setItem(PLACE_KEY, place);
    else localStorage.removeItem(PLACE_KEY);
    send(locationMessage() || { type: "location" });
  });
}

/**
 * Offer a "Use my location" button under a reply that asked for a place. On consent,
 * the position goes to the server (`send`) and the question is asked again (`retry`).
 */
export function offerLocation(bubble, { send, retry }) {
  if (!("geolocation" in navigator)) return;
  const actions = bubble.addActions([
    {
      label: "Use my location",
      onClick: () => {
        actions.remove();
        navigator.geolocation.getCurrentPosition(
          (position) => {
            const shared = {
              latitude: round(position.coords.latitude),
              longitude: round(position.coords.longitude),
            };
            localStorage.setItem(KEY, JSON.stringify(shared));
            send({ type: "location", ...shared });
            retry();
          },
          () => {
            // Refused or unavailable: say so, and let the user try again.
            bubble.addNote("Your location was not shared. Name a place instead, or try again.");
            offerLocation(bubble, { send, retry });
          },
          { maximumAge: 30 * 60 * 1000, timeout: 15_000 },
        );
      },
    },
  ]);
  actions.dataset.for = "location";
}
