"""Commands that open something: site searches, maps and directions, news, email,
web searches and "open …".

Every pattern is anchored and matches the whole command, so a site name must end
the command ("jazz on x", not "jazz on xbox") and "open" must start it ("is the
shop open today" is a question, not an app).
"""

from __future__ import annotations

import re

from ballsy.commands import sites
from ballsy.commands.base import CommandContext, LocalReply
from ballsy.commands.normalize import Utterance, recover_case

_SEARCH_VERB = (
    r"(?:(?:search for|search|find|look up|look for|play|watch|listen to|show me|open|put on|"
    r"pull up)\s+)?"
)
_SITE_NAMES = r"youtube|you tube|spotify|netflix|amazon|twitter|x|facebook|instagram"
_ON_SITE = re.compile(rf"^{_SEARCH_VERB}(?P<query>.+?)\s+(?:on|in)\s+(?P<site>{_SITE_NAMES})$")
_SEARCH_SITE_FOR = re.compile(
    rf"^(?:search|look up|check)\s+(?:on\s+)?(?P<site>{_SITE_NAMES})\s+for\s+(?P<query>.+)$"
)
_EMPTY_QUERIES = frozenset(
    {"search", "something", "anything", "stuff", "it", "things", "play", "find", "look"}
)
_ON_MAPS = re.compile(
    r"^(?:(?:find|search for|search|locate|show me|show|look up|where is)\s+)?"
    r"(?P<place>.+?)\s+(?:on|in)\s+(?:the\s+)?(?:google\s+)?maps?$"
)
_DIRECTIONS_TO = re.compile(
    r"^(?:(?:get|give me|show me|find|i need|i want)\s+)?(?:the\s+)?(?:directions|route|a route)"
    r"\s+(?:to|for)\s+(?P<destination>.+?)(?:\s+from\s+(?P<origin>.+))?$"
    r"|^(?:how do i|how can i|how to|how would i)\s+get\s+to\s+(?P<destination2>.+?)"
    r"(?:\s+from\s+(?P<origin2>.+))?$"
    r"|^navigate\s+to\s+(?P<destination3>.+?)(?:\s+from\s+(?P<origin3>.+))?$"
)
_DIRECTIONS_FROM = re.compile(
    r"^(?:(?:get|give me|show me|find)\s+)?(?:the\s+)?directions\s+from\s+"
    r"(?P<origin>.+?)\s+to\s+(?P<destination>.+)$"
)
_NEWS_ABOUT = re.compile(
    r"^(?:(?:show me|get me|get|give me|find|read me|open|what is|is there|are there)\s+)?"
    r"(?:the\s+|any\s+)?(?:latest\s+|recent\s+|top\s+)?(?:news|headlines|news stories)\s+"
    r"(?:about|on|for|regarding)\s+(?P<topic>.+)$"
    r"|^what is the latest (?:news )?(?:on|about) (?P<topic2>.+)$"
)
_NEWS = re.compile(
    r"^(?:(?:show me|get me|get|give me|read me|open|check|what is|what are)\s+)?(?:the\s+)?"
    r"(?:latest\s+|today's\s+|todays\s+|top\s+)?(?:news|headlines)(?:\s+today)?$"
)
_EMAIL_WORDS = r"(?:e-?mails?|mail|inbox)"
_EMAIL_PROVIDERS = r"gmail|outlook|hotmail|yahoo mail|yahoo"
_EMAIL = re.compile(
    rf"^(?:open|check|read|show me|show|go to|launch)\s+(?:my\s+)?"
    rf"(?:(?P<provider>{_EMAIL_PROVIDERS})\s+)?{_EMAIL_WORDS}"
    rf"(?:\s+(?:on|in|at)\s+(?P<provider2>{_EMAIL_PROVIDERS}))?$"
    rf"|^(?:check|read)\s+(?:my\s+)?(?P<provider3>{_EMAIL_PROVIDERS})$"
)
_ON_GOOGLE = re.compile(
    r"^(?:open|search for|search|look up|find)\s+(?P<query>.+?)\s+on\s+google$"
    r"|^(?:google|search google for)\s+(?P<query2>.+)$"
)
_WEB_SEARCH = re.compile(
    r"^(?:search the web for|search online for|search the internet for|search for|search|"
    r"look up)\s+(?P<query>.+)$"
)
_OPEN = re.compile(r"^(?:open|launch)(?:\s+up)?(?:\s+(?P<target>.+))?$")
_TARGET_ARTICLE = re.compile(r"^(?:the|my|a)\s+")
# "open app spotify", "open the application notes": the word names the kind, not the thing.
_TARGET_KIND = re.compile(r"^(?:(?:desktop\s+)?(?:app|application|program))\s+")
_TARGET_SUFFIX = re.compile(
    r"(?:\s+(?:website|web site|site|homepage|home page|page|app|application)|\.com|\s+dot com)$"
)


def _open_url(text: str, url: str, description: str, family: str) -> LocalReply:
    return LocalReply(
        text=text, family=family, action="open_url", data={"url": url, "description": description}
    )


def _group(match: re.Match[str], *names: str) -> str | None:
    """The first of several alternative groups that matched."""
    return next((match.group(name) for name in names if match.group(name)), None)


def _site_search(site_key: str, query: str, raw: str) -> LocalReply:
    site_key = sites.SEARCH_SITE_ALIASES.get(site_key, site_key)
    if site_key == "instagram":
        return _instagram(query)
    site = sites.SEARCH_SITES[site_key]
    if query in _EMPTY_QUERIES:
        return LocalReply(text=f"What would you like to search on {site.name}?", family="site")
    query = recover_case(raw, query)
    return _open_url(
        f"Searching {site.name} for {query}.",
        site.results_url(query),
        f"{query} on {site.name}",
        "site_search",
    )


def _instagram(query: str) -> LocalReply:
    """One word opens a profile, several words a hashtag (as the original did)."""
    if " " not in query and (url := sites.instagram_profile_url(query)) is not None:
        return _open_url(
            f"Opening {query}'s Instagram.", url, f"{query}'s Instagram", "site_search"
        )
    tag = sites.instagram_tag(query)
    if not tag:
        return LocalReply(text="What would you like to find on Instagram?", family="site_search")
    return _open_url(
        f"Opening #{tag} on Instagram.",
        sites.instagram_tag_url(tag),
        f"#{tag} on Instagram",
        "site_search",
    )


def answer_site_search(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """ "jazz on youtube", "play rock & roll on spotify", "search amazon for socks"."""
    match = _ON_SITE.match(utterance.text) or _SEARCH_SITE_FOR.match(utterance.text)
    if match is None:
        return None
    return _site_search(match.group("site"), match.group("query").strip(), utterance.raw)


def answer_maps(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """Directions ("directions to X [from Y]", "how do I get to X") and places on a map."""
    text = utterance.text
    if (match := _DIRECTIONS_FROM.match(text) or _DIRECTIONS_TO.match(text)) is not None:
        names = match.groupdict()
        destination = _group(match, *(n for n in names if n.startswith("destination")))
        origin = _group(match, *(n for n in names if n.startswith("origin")))
        assert destination is not None
        destination = recover_case(utterance.raw, destination)
        origin = recover_case(utterance.raw, origin) if origin else None
        where = f"from {origin} to {destination}" if origin else f"to {destination}"
        return _open_url(
            f"Getting directions {where}.",
            sites.directions_url(destination, origin),
            f"Directions {where}",
            "directions",
        )
    if (match := _ON_MAPS.match(text)) is not None:
        place = recover_case(utterance.raw, match.group("place"))
        return _open_url(
            f"Showing {place} on the map.", sites.maps_search_url(place), f"{place} on Maps", "maps"
        )
    return None


def answer_news(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """ "news about X", "latest news on X", "what's the news"."""
    if (match := _NEWS_ABOUT.match(utterance.text)) is not None:
        topic = _group(match, "topic", "topic2")
        assert topic is not None
        topic = recover_case(utterance.raw, topic)
        return _open_url(
            f"Here's the latest news about {topic}.",
            sites.news_url(topic),
            f"News about {topic}",
            "news",
        )
    if _NEWS.match(utterance.text):
        return _open_url("Here are today's headlines.", sites.news_url(), "Google News", "news")
    return None


def answer_email(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """ "check my email", "open outlook mail", "check gmail"."""
    match = _EMAIL.match(utterance.text)
    if match is None:
        return None
    provider = _group(match, "provider", "provider2", "provider3") or "gmail"
    site = sites.EMAIL[provider]
    return _open_url(f"Opening {site.name}.", site.url, site.name, "email")


def answer_search(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """ "open X on google", "google X" (a Google search); "search for X" (a web search)."""
    if (match := _ON_GOOGLE.match(utterance.text)) is not None:
        query = _group(match, "query", "query2")
        assert query is not None
        query = recover_case(utterance.raw, query)
        return _open_url(
            f"Searching Google for {query}.",
            sites.google_search_url(query),
            f"{query} on Google",
            "site_search",
        )
    if (match := _WEB_SEARCH.match(utterance.text)) is not None:
        query = recover_case(utterance.raw, match.group("query"))
        return LocalReply(
            text=f"Searching the web for {query}.",
            family="search",
            action="search",
            data={"query": query},
        )
    return None


def _clean_target(target: str) -> str:
    target = _TARGET_ARTICLE.sub("", target.strip())
    target = _TARGET_ARTICLE.sub("", _TARGET_KIND.sub("", target))
    return _TARGET_SUFFIX.sub("", target).strip()


def answer_open(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """ "open netflix" (streaming), "open github" (a site), "open calculator" (an app)."""
    match = _OPEN.match(utterance.text)
    if match is None:
        return None
    target = _clean_target(match.group("target") or "")
    if not target:
        return LocalReply(text="What would you like me to open?", family="open")
    site = sites.STREAMING.get(target) or sites.WEBSITES.get(target)
    if site is not None:
        return _open_url(f"Opening {site.name}.", site.url, site.name, "open")
    app_name = recover_case(utterance.raw, target).title()
    # The reply says what really happens: a browser page cannot start a desktop app.
    return LocalReply(
        text=f"I can't open desktop apps like {app_name} from the browser.",
        family="open",
        action="open_app",
        data={"app_name": app_name},
    )
