"""Speed and size of the model on this machine (the numbers in BENCHMARKS.md, block ``model``).

    python -m face_anything_ros.devtools.model_bench [--weights PATH] [--threads 2] [--repeats 30]

Forward time is the median over ``repeats`` eager float32 forwards at 128 px
after warm-up; training throughput is the median of a few optimisation steps of
the training configuration (frozen early stages) on a generated batch. The
machine's 1-minute load average is printed because the dev CPU is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

from face_anything_ros.model.io import default_weights_path, load_model
from face_anything_ros.model.network import FaceAnythingModel


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


@torch.inference_mode()
def forward_ms(model: FaceAnythingModel, shape: tuple[int, ...], repeats: int) -> float:
    images = torch.rand(*shape)
    return median_ms(lambda: model(images), repeats)


def train_images_per_s(config_name: str, batch: int, steps: int) -> float:
    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig
    from face_anything_ros.training.targets import batch_to_tensors
    from face_anything_ros.training.train import TrainConfig, build_model, build_optimizer, train_step

    cfg = TrainConfig(out="unused", steps=1, batch=batch, model=config_name)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    generated = FaceSequenceGenerator(SynthConfig(), seed=0, split="train").sample_crops(batch, size=128)
    images, targets = batch_to_tensors(generated)

    def step() -> None:
        train_step(model, optimizer, images, targets, cfg.losses, cfg.grad_clip, torch.device("cpu"))

    return batch / (median_ms(step, steps, warmup=2) / 1000.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="weights .pt (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--train-steps", type=int, default=5, help="0 skips the training measurement")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    weights = args.weights or str(default_weights_path())
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}",
        "torch_threads": args.threads,
        "load_average_1min_before": round(os.getloadavg()[0], 2),
        "config": model.config.name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "file_mb": round(os.path.getsize(weights) / 1e6, 2),
        "forward_ms_b1_128": round(forward_ms(model, (1, 3, 128, 128), args.repeats), 2),
        "forward_ms_b4_128": round(forward_ms(model, (4, 3, 128, 128), args.repeats), 2),
        "forward_ms_window_1x4_128": round(forward_ms(model, (1, 4, 3, 128, 128), args.repeats), 2),
    }
    if args.train_steps > 0:
        result["train_images_per_s_b16"] = round(
            train_images_per_s(model.config.name, 16, args.train_steps), 2
        )
    result["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
