"""Synthetic 4D face data with exact ground truth (depth, canonical coordinates, mask, tracks).

```python
from face_anything_ros.synth import SynthConfig, FaceSequenceGenerator
gen = FaceSequenceGenerator(SynthConfig(), seed=0, split="train")
batch = gen.sample_crops(32, size=128)            # image/depth/canonical/mask/intrinsics/landmarks
windows = gen.sample_crop_windows(8, 4, size=128)  # same keys, (B, T, ...)
sequence = gen.sample_sequence(24, image_size=(256, 256))
```
"""

from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.generator import FaceSequenceGenerator

__all__ = ["FaceSequenceGenerator", "SynthConfig"]
