"""Configuration of the synthetic face generator (one dataclass, every knob named)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SynthConfig:
    """Ranges the generator samples from. Defaults are tuned for training crops."""

    # mesh
    subdivisions: int = 1  # midpoint subdivisions of the 468-vertex template (1 → 3592 face triangles)
    # identity (shape)
    identity_bump_cm: float = 0.28  # std of the smooth per-region displacements
    global_scale_range: tuple[float, float] = (0.88, 1.12)  # overall head size
    axis_scale_std: float = 0.05  # independent width/height/depth variation
    # expression
    expression_strength: float = 1.0
    jaw_open_max_deg: float = 22.0
    # pose (degrees)
    yaw_max_deg: float = 90.0
    pitch_max_deg: float = 40.0
    roll_max_deg: float = 35.0
    # camera
    fov_range_deg: tuple[float, float] = (35.0, 90.0)
    crop_distance_range_m: tuple[float, float] = (0.3, 1.6)
    sequence_distance_range_m: tuple[float, float] = (0.3, 2.5)
    single_face_distance_range_m: tuple[float, float] = (0.35, 1.2)  # a sequence's only head sits nearer
    crop_center_jitter: float = 0.08  # fraction of the crop side
    crop_scale_jitter: tuple[float, float] = (0.85, 1.2)
    image_border_probability: float = 0.1  # crop reaches past the (virtual) image border → black
    # appearance
    occluder_probability: float = 0.25
    # share of full-frame sequences with an object (a hand, a cup) crossing a face on its own straight path
    # in the image, not moving with the head (synth/occluders.py, PassingOccluder); 0 keeps the default
    # splits as they were
    passing_occluder_probability: float = 0.0
    glasses_probability: float = 0.15
    beard_probability: float = 0.25
    makeup_probability: float = 0.3
    hair_probability: float = 0.85
    specular_range: tuple[float, float] = (0.0, 0.35)
    # per-pixel skin optics (synth/shading.py)
    specular_exponent_range: tuple[float, float] = (16.0, 160.0)  # per-person Blinn-Phong sharpness
    tzone_oil_range: tuple[float, float] = (0.3, 2.5)  # extra specular on forehead, nose, chin (× base)
    # per-person pore height: normal slope per unit-RMS texture gradient (0 = flat, the old look)
    skin_bump_range: tuple[float, float] = (0.02, 0.08)
    light_tint_probability: float = 0.35  # key or fill light tinted (fluorescent, LED, sodium, sky)
    # anti-aliasing: a camera integrates light over each pixel, a point-sampling rasteriser does not
    supersample_probability: float = 0.5  # render this share of crops / sequences at supersample_factor x
    supersample_factor: int = 2  # integer, so the area downsampling (cv2.INTER_AREA) is an exact box filter
    # image degradation
    motion_blur_probability: float = 0.25
    defocus_probability: float = 0.3
    noise_std_range: tuple[float, float] = (0.0, 0.04)
    jpeg_probability: float = 0.5
    jpeg_quality_range: tuple[int, int] = (30, 95)
    # sequences
    max_faces_per_frame: int = 3
    queries_per_sequence: int = 256
    visibility_tolerance_m: float = 0.004  # a track point is visible if within this of the z-buffer
    # background pool
    background_pool_size: int = 48
    background_size: int = 256
