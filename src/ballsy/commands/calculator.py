"""The arithmetic command: find the calculation in a question and answer it.

"what is 7 times 8", "calculate 2^10", "what does 5 plus 5 equal", "plus six". The
question words around the calculation are removed, then `arithmetic` decides: a
text that is not a calculation ("what is love") is left to other commands.
"""

from __future__ import annotations

import re

from ballsy.commands.arithmetic import Answer, try_calculate
from ballsy.commands.base import CommandContext, LocalReply
from ballsy.commands.normalize import Utterance

_QUESTION_PREFIX = re.compile(
    r"^(?:what is|what are|what does|what do|how much is|how much are|calculate|compute|"
    r"evaluate|work out|solve|what will|what would|what would be|do the math|add up)\s+"
)
_QUESTION_SUFFIX = re.compile(
    r"\s+(?:equal to|equals|equal|make|makes|come to|be|is|give me|give)$"
)


# Calculations said as instructions: "add 5 and 7", "subtract 3 from 10".
_VERB_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^add (?P<a>.+) (?:and|to) (?P<b>.+)$"), "({a}) + ({b})"),
    (re.compile(r"^subtract (?P<a>.+) from (?P<b>.+)$"), "({b}) - ({a})"),
    (re.compile(r"^take (?P<a>.+) away from (?P<b>.+)$"), "({b}) - ({a})"),
    (re.compile(r"^multiply (?P<a>.+) (?:by|and|with) (?P<b>.+)$"), "({a}) * ({b})"),
    (re.compile(r"^divide (?P<a>.+) by (?P<b>.+)$"), "({a}) / ({b})"),
    (re.compile(r"^(?:what is )?the square of (?P<a>.+)$"), "({a}) ^ 2"),
)
_LEADING_MINUS = re.compile(r"^(?:-|minus\b|negative\b)")


def calculation_text(text: str) -> str:
    """`text` without the question around its calculation, instructions as symbols."""
    for pattern, template in _VERB_FORMS:
        if (match := pattern.match(text)) is not None:
            return template.format(**match.groupdict())
    text = _QUESTION_PREFIX.sub("", text, count=1)
    return _QUESTION_SUFFIX.sub("", text, count=1)


def answer_arithmetic(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """Answer a calculation (or refuse it in words); None if the text is not one."""
    candidate = calculation_text(utterance.text)
    last_result = ctx.last_result
    if candidate != utterance.text and _LEADING_MINUS.match(candidate):
        # "what's minus 5 plus 3" asks a new question; a bare "minus 5" continues.
        last_result = None
    outcome = try_calculate(candidate, last_result=last_result)
    if outcome is None:
        return None
    if isinstance(outcome, Answer):
        return LocalReply(
            text=f"That's {outcome.spoken}.",
            family="arithmetic",
            result_changed=True,
            last_result=outcome.value,
        )
    return LocalReply(text=outcome.message, family="arithmetic")
