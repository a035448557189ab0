"""Where Ballsy sends people: the original's destinations, as data.

Query text always goes through `urllib.parse` (`quote_plus` for query strings,
`quote` with nothing safe for path segments), so "rock & roll" stays one query
and "AC/DC" stays one path segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus


@dataclass(frozen=True, slots=True)
class Site:
    """A named destination: how to say it and where it lives."""

    name: str
    url: str


# "open <service>": the original's streaming destinations.
STREAMING: dict[str, Site] = {
    "netflix": Site("Netflix", "https://www.netflix.com"),
    "hulu": Site("Hulu", "https://www.hulu.com"),
    "disney plus": Site("Disney Plus", "https://www.disneyplus.com"),
    "disney+": Site("Disney Plus", "https://www.disneyplus.com"),
    "prime video": Site("Prime Video", "https://www.amazon.com/Prime-Video"),
    "amazon prime": Site("Prime Video", "https://www.amazon.com/Prime-Video"),
    "amazon prime video": Site("Prime Video", "https://www.amazon.com/Prime-Video"),
    "hbo": Site("HBO Max", "https://www.hbomax.com"),
    "hbo max": Site("HBO Max", "https://www.hbomax.com"),
    "peacock": Site("Peacock", "https://www.peacocktv.com"),
    "paramount": Site("Paramount Plus", "https://www.paramountplus.com"),
    "paramount plus": Site("Paramount Plus", "https://www.paramountplus.com"),
    "paramount+": Site("Paramount Plus", "https://www.paramountplus.com"),
    "apple tv": Site("Apple TV", "https://tv.apple.com"),
    "apple tv plus": Site("Apple TV", "https://tv.apple.com"),
    "apple tv+": Site("Apple TV", "https://tv.apple.com"),
}

# "open <site>": the original's well-known sites, with the names recognisers write.
WEBSITES: dict[str, Site] = {
    "youtube": Site("YouTube", "https://youtube.com"),
    "you tube": Site("YouTube", "https://youtube.com"),
    "google": Site("Google", "https://google.com"),
    "gmail": Site("Gmail", "https://mail.google.com"),
    "spotify": Site("Spotify", "https://open.spotify.com"),
    "amazon": Site("Amazon", "https://amazon.com"),
    "facebook": Site("Facebook", "https://facebook.com"),
    "instagram": Site("Instagram", "https://instagram.com"),
    "twitter": Site("Twitter", "https://twitter.com"),
    "x": Site("Twitter", "https://twitter.com"),
    "linkedin": Site("LinkedIn", "https://linkedin.com"),
    "linked in": Site("LinkedIn", "https://linkedin.com"),
    "reddit": Site("Reddit", "https://reddit.com"),
    "twitch": Site("Twitch", "https://twitch.tv"),
    "github": Site("GitHub", "https://github.com"),
    "git hub": Site("GitHub", "https://github.com"),
    "stackoverflow": Site("Stack Overflow", "https://stackoverflow.com"),
    "stack overflow": Site("Stack Overflow", "https://stackoverflow.com"),
    "pinterest": Site("Pinterest", "https://pinterest.com"),
    "maps": Site("Google Maps", "https://maps.google.com"),
    "google maps": Site("Google Maps", "https://maps.google.com"),
    "wikipedia": Site("Wikipedia", "https://wikipedia.org"),
    "tiktok": Site("TikTok", "https://tiktok.com"),
    "tik tok": Site("TikTok", "https://tiktok.com"),
    "whatsapp": Site("WhatsApp", "https://web.whatsapp.com"),
    "google drive": Site("Google Drive", "https://drive.google.com"),
    "google calendar": Site("Google Calendar", "https://calendar.google.com"),
}

EMAIL: dict[str, Site] = {
    "gmail": Site("Gmail", "https://mail.google.com"),
    "outlook": Site("Outlook", "https://outlook.live.com"),
    "hotmail": Site("Outlook", "https://outlook.live.com"),
    "yahoo": Site("Yahoo Mail", "https://mail.yahoo.com"),
    "yahoo mail": Site("Yahoo Mail", "https://mail.yahoo.com"),
}


@dataclass(frozen=True, slots=True)
class SearchSite:
    """A site searched with "X on <site>": its name and how to build the results URL."""

    name: str
    results_url: Callable[[str], str]


SEARCH_SITES: dict[str, SearchSite] = {
    "youtube": SearchSite(
        "YouTube", lambda q: f"https://www.youtube.com/results?search_query={quote_plus(q)}"
    ),
    "spotify": SearchSite(
        "Spotify", lambda q: f"https://open.spotify.com/search/{quote(q, safe='')}"
    ),
    "netflix": SearchSite("Netflix", lambda q: f"https://www.netflix.com/search?q={quote_plus(q)}"),
    "amazon": SearchSite("Amazon", lambda q: f"https://www.amazon.com/s?k={quote_plus(q)}"),
    "twitter": SearchSite("Twitter", lambda q: f"https://twitter.com/search?q={quote_plus(q)}"),
    "facebook": SearchSite(
        "Facebook", lambda q: f"https://www.facebook.com/search/top/?q={quote_plus(q)}"
    ),
}
SEARCH_SITE_ALIASES = {"you tube": "youtube", "x": "twitter"}

_INSTAGRAM_NAME = re.compile(r"[^a-z0-9._]")
_INSTAGRAM_TAG = re.compile(r"[^\w]")


def google_search_url(query: str) -> str:
    return f"https://www.google.com/search?q={quote_plus(query)}"


def maps_search_url(place: str) -> str:
    """Google Maps' documented search URL (robust to "/" and "&" in the place)."""
    return f"https://www.google.com/maps/search/?api=1&query={quote_plus(place)}"


def directions_url(destination: str, origin: str | None = None) -> str:
    """Google Maps' documented directions URL; without an origin, from where the user is."""
    url = f"https://www.google.com/maps/dir/?api=1&destination={quote_plus(destination)}"
    return f"{url}&origin={quote_plus(origin)}" if origin else url


def news_url(topic: str | None = None) -> str:
    if not topic:
        return "https://news.google.com"
    return f"https://news.google.com/search?q={quote_plus(topic)}"


def instagram_profile_url(name: str) -> str | None:
    """A profile for a one-word name (Instagram's characters only), else None."""
    handle = _INSTAGRAM_NAME.sub("", name.lstrip("@"))
    return f"https://www.instagram.com/{quote(handle, safe='')}/" if handle else None


def instagram_tag(words: str) -> str:
    """A hashtag for several words: letters, digits and underscores, run together."""
    return _INSTAGRAM_TAG.sub("", words)


def instagram_tag_url(tag: str) -> str:
    return f"https://www.instagram.com/explore/tags/{quote(tag, safe='')}/"
