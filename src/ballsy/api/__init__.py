"""The doors: REST routes, the WebSocket, their wire formats and dependencies."""
