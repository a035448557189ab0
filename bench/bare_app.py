"""The ceiling: a bare FastAPI app answering the same shapes with nothing behind them."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket
from pydantic import BaseModel


class CommandIn(BaseModel):
    command: str
    user_id: int | None = 1


app = FastAPI()
REPLY = {"response": "Hello! I'm Ballsy.", "action": None, "data": None}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/command")
async def command(body: CommandIn) -> dict[str, object]:
    return REPLY


@app.websocket("/ws/voice/{client_id}")
async def voice(websocket: WebSocket, client_id: str) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive_json()
        if "command" in message:
            await websocket.send_json({"type": "command_response", "data": REPLY})
