"""Reading an uploaded file into memory, refusing it as soon as it passes a size limit.

The limit is checked while reading, so an oversized upload costs at most one chunk more
than the limit, never the whole body.
"""

from __future__ import annotations

from fastapi import UploadFile

from ballsy.errors import TooLarge

_READ_CHUNK = 256 * 1024


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """The upload's bytes; `TooLarge` once more than `limit` bytes have come."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await file.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The audio is larger than {limit // (1024 * 1024)} MB.")
        chunks.append(chunk)
    return b"".join(chunks)
