"""A replay pool of generated samples, so training is not throttled by the renderer.

On the 2-core dev CPU the synthetic renderer makes far fewer crops per second
than the network can learn from. The trainer keeps the last ``capacity``
samples and draws each batch from them: every fresh sample is used at least once
(unseen ones first), the rest of the batch is re-drawn from the pool and gets a
new random augmentation (data echoing). On a GPU with enough data workers the
pool simply turns over faster.
"""

from __future__ import annotations

import numpy as np


class ReplayPool:
    """Ring buffer over the leading axis of generator batches (dict of arrays)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be ≥ 1")
        self.capacity = capacity
        self.arrays: dict[str, np.ndarray] = {}
        self.size = 0
        self.cursor = 0
        self.unseen: list[int] = []
        self.added = 0
        self.drawn = 0

    def add(self, batch: dict[str, np.ndarray]) -> None:
        count = len(next(iter(batch.values())))
        if not self.arrays:
            self.arrays = {k: np.empty((self.capacity, *v.shape[1:]), v.dtype) for k, v in batch.items()}
        for i in range(count):
            slot = self.cursor
            for key, value in batch.items():
                self.arrays[key][slot] = value[i]
            if slot in self.unseen:
                self.unseen.remove(slot)
            self.unseen.append(slot)
            self.cursor = (self.cursor + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)
        self.added += count

    def sample(self, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``count`` samples (copies): unseen first, then uniformly from the pool."""
        if self.size == 0:
            raise ValueError("the pool is empty")
        fresh = self.unseen[:count]
        self.unseen = self.unseen[len(fresh) :]
        rest = rng.integers(0, self.size, size=count - len(fresh)).tolist()
        index = np.asarray(fresh + rest, dtype=np.int64)
        self.drawn += count
        return {k: v[index] for k, v in self.arrays.items()}

    @property
    def echo_factor(self) -> float:
        """Samples drawn per sample generated (1 = every sample used once)."""
        return self.drawn / max(self.added, 1)
