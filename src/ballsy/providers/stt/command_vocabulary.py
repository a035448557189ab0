"""The words Ballsy's commands are made of, given to Whisper as its initial prompt.

Whisper reads a prompt as text said just before the audio, so words in it become more
likely (the spelling "YouTube", number words, "times", "divided by") and its style is
copied (lower-case questions, numbers as words that the command router reads). It lists
the vocabulary of the command families, not the benchmark's phrases: bench/
bench_recognition.py measures it on sentences it does not contain word for word.
"""

from __future__ import annotations

COMMAND_PROMPT = (
    "Hey Ballsy. What's the time? What's the date? What is twelve times four, "
    "nine plus six, eighty minus two, a hundred divided by five, ten percent of fifty? "
    "Set a timer for three minutes. What's the weather? Play music on YouTube. "
    "Open Google. Read the news. Directions to the station."
)
