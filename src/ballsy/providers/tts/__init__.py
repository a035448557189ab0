"""Speech synthesis: Ballsy's own voice (Piper), run in isolated worker processes."""
