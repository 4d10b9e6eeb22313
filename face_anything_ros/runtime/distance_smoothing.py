"""Per face track, temporal smoothing of the fitted distance (metric scale) of a face.

Why: the head-pose fit reads each face's distance from the canonical map in one frame, and that
reading flickers by a few per cent from frame to frame on a face that does not move (about 3.6 % on
the synthetic train split): at 1 m the face's point cloud jumps by centimetres along the view ray
every frame. A One-Euro filter (``runtime.tracking.OneEuroFilter``) on the log of the distance
removes most of it; its cutoff rises with the speed of the distance change, so a face moving
towards the camera is followed with little lag. Only the distance changes: the face keeps its
image position, its rotation and its relief (its points move along their camera rays).
"""

from __future__ import annotations

import numpy as np

from face_anything_ros.runtime.config import GeometryConfig
from face_anything_ros.runtime.geometry import FaceGeometry, rescale_distance
from face_anything_ros.runtime.tracking import TrackFilters


class DistanceSmoother:
    """Per track id, the filtered distance of its face (``geometry.distance_smoothing``)."""

    def __init__(self, config: GeometryConfig) -> None:
        self._enabled = config.distance_smoothing
        self._filters = TrackFilters(
            config.distance_min_cutoff_hz, config.distance_beta, config.distance_d_cutoff_hz
        )

    def __call__(self, track_id: int, geometry: FaceGeometry, stamp_s: float) -> FaceGeometry:
        """The geometry at the track's filtered distance (unchanged without a valid pose or when off).

        The filter restarts by itself when the timestamp does not advance (a looped bag, frames without
        stamps); a face without a pose in this frame leaves its filter as it was.
        """
        distance = geometry.median_depth_m
        if not (self._enabled and geometry.pose_valid and np.isfinite(distance)):
            return geometry
        smoothed = float(np.exp(self._filters(track_id, np.array([np.log(distance)]), stamp_s)[0]))
        return rescale_distance(geometry, smoothed)

    def forget_all_but(self, live_track_ids: set[int]) -> None:
        self._filters.forget_all_but(live_track_ids)
