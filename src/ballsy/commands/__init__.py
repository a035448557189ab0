"""Local commands: pure functions, no I/O, the clock and memory passed in.

`route(text, ctx)` answers a command Ballsy can handle itself with a `LocalReply`,
or returns `NeedsAI` for everything that needs an AI model.
"""
