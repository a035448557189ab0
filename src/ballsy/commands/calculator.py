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


def calculation_text(text: str) -> str:
    """`text` without the question around its calculation."""
    text = _QUESTION_PREFIX.sub("", text, count=1)
    return _QUESTION_SUFFIX.sub("", text, count=1)


def answer_arithmetic(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """Answer a calculation (or refuse it in words); None if the text is not one."""
    outcome = try_calculate(calculation_text(utterance.text), last_result=ctx.last_result)
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
