"""Running native code on untrusted input in worker processes (speech in, speech out)."""
