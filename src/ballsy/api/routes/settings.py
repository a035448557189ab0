"""`GET`/`PUT /api/settings/{user_id}`: voice, speed, theme and time zone."""

from __future__ import annotations

from fastapi import APIRouter

from ballsy.api.deps import OwnedUserId, ServicesDep
from ballsy.api.errors import responses
from ballsy.api.schemas import SettingsBody, SettingsIn, SettingsOut
from ballsy.db import repositories as repo
from ballsy.db.models import UserSettings

router = APIRouter(prefix="/api/settings", tags=["settings"])


def _out(row: UserSettings) -> SettingsOut:
    return SettingsOut(
        settings=SettingsBody(
            user_id=row.user_id,
            voice=row.voice,
            voice_speed=row.voice_speed,
            theme=row.theme,
            timezone=row.timezone,
        )
    )


@router.get("/{user_id}", response_model=SettingsOut, responses=responses(401, 404, 422, 429, 503))
async def get_settings(user_id: OwnedUserId, services: ServicesDep) -> SettingsOut:
    async with services.sessions() as session:
        row = await repo.get_settings(session, user_id)
        await session.commit()
    return _out(row)


@router.put("/{user_id}", response_model=SettingsOut, responses=responses(401, 404, 422, 429, 503))
async def put_settings(
    user_id: OwnedUserId, body: SettingsIn, services: ServicesDep
) -> SettingsOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    async with services.sessions() as session:
        row = await repo.update_settings(session, user_id, changes)
        await session.commit()
    return _out(row)
