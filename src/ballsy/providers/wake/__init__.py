"""Wake word detection on the audio a hands-free page streams (see service.py)."""
