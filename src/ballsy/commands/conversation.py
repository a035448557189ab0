"""Greetings, Ballsy's name, small talk, thanks, "stop" and goodbyes.

Each matches the whole command (after filler), not a phrase anywhere in it: the
original's substring match sent "the bus stop on main street" to `exit` and
"hi-fi speakers" to a greeting.
"""

from __future__ import annotations

import re

from ballsy.commands.base import CommandContext, LocalReply
from ballsy.commands.normalize import Utterance

GREETING_REPLY = "Hi there! I'm Ballsy, your voice assistant. How can I help?"
NAME_REPLY = "I'm Ballsy, your personal voice assistant!"
SMALL_TALK_REPLY = "I'm doing great! Ready to help you with anything you need!"
THANKS_REPLY = "You're welcome! Anything else?"
GOODBYE_REPLY = "Goodbye! Take care!"
# "stop" asks Ballsy to stop (talking, listening), not to say goodbye: the reply says what
# happens. The action stays the original's `exit` (the page stops listening, nothing more).
STOP_REPLY = "Okay, I've stopped. I'm here when you need me."

_GREETING = re.compile(
    r"^(?:(?:hello|hi|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))"
    r"(?: there)?(?: ballsy)?|(?:hey |hi |ok |okay )?ballsy)$"
)
_NAME = re.compile(
    r"\bwhat is your name\b|\bwhat are you called\b|"
    r"^(?:who are you|who is this|introduce yourself|tell me about yourself|"
    r"what should i call you|what do i call you|who am i (?:talking|speaking) to)$"
)
_SMALL_TALK = re.compile(
    r"^(?:how are you(?: doing)?|how is it going|how are things|how is everything|"
    r"how have you been|how do you do|what is up|what is new|sup|you good|"
    r"are you (?:ok|okay|alright|well))(?: today| tonight| this morning)?$"
)
_THANKS = re.compile(
    r"^(?:thanks|thank you|thank you very much|thank you so much|thanks a lot|"
    r"thanks so much|cheers|much appreciated)$"
)
_GOODBYE = re.compile(
    r"^(?:(?:ok|okay|alright|thanks|thank you)\s+)?"
    r"(?:bye|bye bye|goodbye|good bye|bye for now|see you|see you later|see you soon|"
    r"see you tomorrow|see ya|later|farewell|good night|goodnight|exit|quit|"
    r"that is all|that will be all|i am done|we are done|go to sleep)$"
)
_STOP = re.compile(
    r"^(?:(?:ok|okay|alright)\s+)?"
    r"(?:stop|stop it|stop talking|stop speaking|stop listening|cancel|cancel that|"
    r"be quiet|quiet|shut up|hush|shush|silence|never mind|nevermind|enough|that is enough)$"
)


def answer_conversation(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """Reply to a greeting, a name question, small talk, thanks or a goodbye."""
    text = utterance.text
    if _GREETING.match(utterance.plain) or _GREETING.match(text):
        return LocalReply(text=GREETING_REPLY, family="greeting")
    if _NAME.search(text):
        return LocalReply(text=NAME_REPLY, family="name")
    if _SMALL_TALK.match(text):
        return LocalReply(text=SMALL_TALK_REPLY, family="small_talk")
    if _THANKS.match(text):
        return LocalReply(text=THANKS_REPLY, family="small_talk")
    if _STOP.match(text):
        return LocalReply(text=STOP_REPLY, family="stop", action="exit")
    if _GOODBYE.match(text):
        return LocalReply(text=GOODBYE_REPLY, family="goodbye", action="exit")
    return None
