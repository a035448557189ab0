"""The one command pipeline every door (WebSocket, REST, CLI) calls. No FastAPI here."""
