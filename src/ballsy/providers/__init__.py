"""Backends behind small interfaces: AI replies (llm), speech-to-text (stt), rate limits.

Each kind has `base.py` (the interface) and one module per backend. Only
`ballsy.wiring` picks concrete backends.
"""
