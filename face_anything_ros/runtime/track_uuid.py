"""Track UUIDs: ids unique across cameras, node restarts and pipeline resets.

The id assigner numbers tracks 0, 1, 2, ... per stream, so two cameras (or one node started twice)
reuse the same numbers. Each stream therefore draws a random session UUID (version 4) when it
starts (and again on ``FacePipeline.reset``), and a track's UUID is the name-based UUID (version 5)
of its number within that session: unique with the probability of a random UUID, the same for every
frame of the track, and computed without keeping any state per track.
"""

from __future__ import annotations

import uuid


class TrackUuids:
    """UUID of every track number of one stream session."""

    def __init__(self, session: uuid.UUID | None = None) -> None:
        self.session = session if session is not None else uuid.uuid4()

    def uuid(self, track_id: int) -> uuid.UUID:
        return uuid.uuid5(self.session, str(int(track_id)))
