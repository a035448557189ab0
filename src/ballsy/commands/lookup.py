"""Who/what-is questions, and everything else, for the AI.

"who is Marie Curie", "what is a black hole", "tell me about Rome", "define
serendipity" become `NeedsAI(kind="lookup")`: the question, which the pipeline
asks for a one-sentence factual answer, with the web search as fallback.
Questions about the conversation itself ("what is my name", "who is he", "what
is that") need the conversation's context, so they go to chat like everything
else.
"""

from __future__ import annotations

import re

from ballsy.commands.base import CommandContext, NeedsAI
from ballsy.commands.normalize import Utterance, recover_case

_PERSON = re.compile(r"^(?:who is|who was|who are|who were)\s+(?P<subject>.+)$")
_THING = re.compile(
    r"^(?:what is|what are|what was|what were|tell me about|tell me something about|"
    r"what do you know about|define|what is the meaning of|what is the definition of)"
    r"\s+(?P<subject>.+)$"
    r"|^what does\s+(?P<word>.+?)\s+mean$"
)
# Subjects that point into the conversation rather than at the world.
_CONTEXTUAL = re.compile(
    r"^(?:my|your|our|his|her|their|its|this|that|these|those|it|he|she|they|them|you|i|me|"
    r"we|us|there|here|going on|happening|wrong|next|up|the matter)\b"
)


def answer_lookup(utterance: Utterance, ctx: CommandContext) -> NeedsAI | None:
    """A lookup for the AI, or None when the text is not a who/what-is question."""
    text = utterance.text
    person = _PERSON.match(text)
    match = person or _THING.match(text)
    if match is None:
        return None
    group = "subject" if match.group("subject") else "word"
    found = match.group(group)
    if not found or _CONTEXTUAL.match(found):
        return None
    subject = recover_case(utterance.raw, found.strip())
    # The canonical question with the subject as the user wrote it ("Who is Ada Lovelace?").
    question = text[: match.start(group)] + subject + text[match.end(group) :]
    return NeedsAI(
        prompt=f"{question[:1].upper()}{question[1:]}{'?' if text.startswith('w') else '.'}",
        kind="lookup",
        subject=f"who is {subject}" if person else subject,
        family="lookup",
        is_person=person is not None,
    )


def answer_chat(utterance: Utterance, ctx: CommandContext) -> NeedsAI:
    """Everything no other command answers: a chat turn for the AI."""
    subject = recover_case(utterance.raw, utterance.text)
    return NeedsAI(prompt=utterance.raw, kind="chat", subject=subject, family="chat")
