"""Training loop: synthetic crops on the fly → FaceAnythingModel, same code on CPU and GPU.

Data comes from the synthetic generator in a DataLoader worker process (so the
2-core dev CPU renders and trains at once). Every few minutes, and on
SIGINT/SIGTERM, the run writes ``checkpoint.pt`` (resumable), ``model.pt`` +
``model.json`` (latest weights in the shipped format), ``best.pt`` (best held-out
canonical error), ``loss.png`` and ``preview.png`` (predictions on held-out
test-split crops). The learning-rate schedule follows the step or time budget,
so ``--minutes`` runs end cooled down.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from face_anything_ros.model import FaceAnythingModel, get_config, load_model, save_model
from face_anything_ros.model.config import ModelConfig
from face_anything_ros.model.decoder import HEAD_CHANNELS
from face_anything_ros.model.device import resolve_device
from face_anything_ros.model.encoder import load_imagenet_weights
from face_anything_ros.training.augment import AugmentConfig, augment_batch
from face_anything_ros.training.losses import LossWeights, Targets, compute_losses
from face_anything_ros.training.prior_inputs import (
    FaceMeshLandmarks,
    PriorNoiseConfig,
    add_heldout_prior,
    add_prior_channels,
    with_prior_input,
)
from face_anything_ros.training.replay import ReplayPool
from face_anything_ros.training.targets import batch_to_tensors, targets_to

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_EMA = 0.9  # smoothing of the logged losses


@dataclass
class TrainConfig:
    out: str
    model: str = "small"
    steps: int | None = None  # stop after this many steps (None: only the time budget)
    minutes: float | None = None  # stop after this much training time
    batch: int = 8
    generate_batch: int = 8  # crops per generator call
    pool_size: int = 1024  # replay pool of generated crops (data echoing when rendering is slower)
    target_echo: float = 3.0  # take new crops only once each has been drawn this often on average
    lr: float = 1e-3
    encoder_lr_scale: float = 0.3  # the pretrained stem moves slower
    weight_decay: float = 0.05
    warmup_steps: int = 150
    min_lr_fraction: float = 0.05
    grad_clip: float = 1.0
    window_prob: float = 0.2  # fraction of steps on multi-frame windows
    window_frames: int = 4
    image_size: int = 128
    checkpoint_minutes: float = 5.0
    heldout_crops: int = 48
    workers: int = 1
    threads: int = 2
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    pretrained: bool = True
    init_weights: str | None = None  # start from these verified weights (fine-tuning), not ImageNet
    # Re-initialise the confidence head's output channel before fine-tuning so that its confidence starts
    # near this value (0: keep it). The 0.2.x weights' head sits at its 1 + softplus floor with logits
    # ~ -68, where softplus has no gradient, so a new confidence_alpha alone cannot move it.
    reset_confidence_to: float = 0.0
    # share of crops the generator supersamples (None: SynthConfig's default)
    supersample_probability: float | None = None
    freeze_stages: int = 2  # stem + first encoder stages stay at their ImageNet weights
    # train a model that takes the face-mesh prior as input (issue 12 option a); weights that already
    # take it keep it. --init-weights without it gain the prior branch, initialised to change nothing.
    prior_input: bool = False
    prior_noise: PriorNoiseConfig = field(default_factory=PriorNoiseConfig)
    prior_lr_scale: float = 10.0  # the prior branch's learning rate / lr
    frozen_batchnorm: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    losses: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise ValueError("give a budget: steps, minutes or both")


def training_synth_config(cfg: TrainConfig):
    """The generator settings of a run: the defaults, with the run's supersampling share if it set one."""
    from face_anything_ros.synth import SynthConfig

    if cfg.supersample_probability is None:
        return SynthConfig()
    return SynthConfig(supersample_probability=cfg.supersample_probability)


class SynthBatchStream(torch.utils.data.IterableDataset):
    """Endless raw generator batches, ``("crops", batch)`` or ``("windows", batch)``."""

    def __init__(self, cfg: TrainConfig, seed: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.seed = seed

    def __iter__(self):
        import cv2

        from face_anything_ros.synth import FaceSequenceGenerator

        cv2.setNumThreads(1)
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        seed = self.seed * 1009 + worker
        generator = FaceSequenceGenerator(training_synth_config(self.cfg), seed=seed, split="train")
        rng = np.random.default_rng(seed + 7)
        cfg = self.cfg
        # a prior-taking model also learns from the real face mesh's landmarks on the rendered crops
        mesh = FaceMeshLandmarks() if cfg.prior_input and cfg.prior_noise.face_mesh_probability > 0 else None
        while True:
            if rng.random() < cfg.window_prob:
                windows = max(1, cfg.generate_batch // cfg.window_frames)
                kind = "windows"
                batch = generator.sample_crop_windows(windows, cfg.window_frames, size=cfg.image_size)
            else:
                kind = "crops"
                batch = generator.sample_crops(cfg.generate_batch, size=cfg.image_size)
            if mesh is not None:
                batch["mesh_landmarks"] = mesh(batch["image"], batch["landmarks"])
            yield kind, batch


class BatchFeeder:
    """Pulls generator batches in a background thread (the rendering runs in DataLoader workers)."""

    def __init__(self, cfg: TrainConfig, seed: int) -> None:
        self.loader = torch.utils.data.DataLoader(
            SynthBatchStream(cfg, seed),
            batch_size=None,
            num_workers=cfg.workers,
            persistent_workers=cfg.workers > 0,
            prefetch_factor=2 if cfg.workers > 0 else None,
            # spawn, not fork: the trainer has live OpenMP/torch threads, which a forked child can deadlock on
            multiprocessing_context="spawn" if cfg.workers > 0 else None,
        )
        self.queue: queue.Queue = queue.Queue(maxsize=max(2, 2 * cfg.workers))
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="batch-feeder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for kind, batch in self.loader:
                arrays = {k: np.asarray(v) for k, v in batch.items()}
                while not self.stop.is_set():
                    try:
                        self.queue.put((kind, arrays), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
        except BaseException as exc:  # surfaced to the training loop
            self.error = exc

    def get(self, block: bool) -> tuple[str, dict[str, np.ndarray]] | None:
        if self.error is not None:
            raise RuntimeError(f"synthetic data generation failed: {self.error}") from self.error
        try:
            return self.queue.get(timeout=5.0) if block else self.queue.get_nowait()
        except queue.Empty:
            return None

    def close(self) -> None:
        self.stop.set()


def build_model(cfg: TrainConfig) -> FaceAnythingModel:
    if cfg.init_weights:
        # Fine-tuning (e.g. continue the shipped model on a later machine): the weights file decides
        # the architecture; load_model verifies hash, config and shapes.
        model = load_model(cfg.init_weights)
        if model.config.image_size != cfg.image_size:
            raise ValueError(
                f"--init-weights {cfg.init_weights} was trained at {model.config.image_size} px, not --size {cfg.image_size}"
            )
    else:
        model_config: ModelConfig = get_config(cfg.model)
        if model_config.image_size != cfg.image_size:
            model_config = ModelConfig.from_dict({**model_config.to_dict(), "image_size": cfg.image_size})
        model = FaceAnythingModel(model_config)
        if cfg.pretrained:
            load_imagenet_weights(model.encoder)
    if cfg.prior_input and not model.config.prior_channels:
        model = with_prior_input(model)
    if cfg.reset_confidence_to:
        reset_confidence_head(model, cfg.reset_confidence_to)
    model.encoder.freeze(cfg.freeze_stages, cfg.frozen_batchnorm)
    return model


def reset_confidence_head(model: FaceAnythingModel, confidence: float) -> None:
    """Small random weights and a bias giving ``1 + softplus(bias) = confidence`` on the confidence channel."""
    if confidence <= 1.0:
        raise ValueError(f"the confidence head outputs 1 + softplus(x) > 1; cannot start it at {confidence}")
    channel = list(HEAD_CHANNELS).index("confidence")
    offset = sum(list(HEAD_CHANNELS.values())[:channel])
    output = model.decoder.head[-1]
    with torch.no_grad():
        torch.nn.init.normal_(output.weight[offset], std=1e-3)
        output.bias[offset] = math.log(math.expm1(confidence - 1.0))


def build_optimizer(model: FaceAnythingModel, cfg: TrainConfig) -> torch.optim.Optimizer:
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    prior = list(model.prior_encoder.parameters()) if model.prior_encoder is not None else []
    grouped = {id(p) for p in encoder + prior}
    rest = [p for p in model.parameters() if id(p) not in grouped]
    groups = [
        {"params": encoder, "lr_scale": cfg.encoder_lr_scale},
        {"params": rest, "lr_scale": 1.0},
    ]
    if prior:  # a new branch next to fine-tuned weights learns faster
        groups.append({"params": prior, "lr_scale": cfg.prior_lr_scale})
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def learning_rate(cfg: TrainConfig, step: int, progress: float) -> float:
    warmup = min(1.0, (step + 1) / max(cfg.warmup_steps, 1))
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return cfg.lr * warmup * (cfg.min_lr_fraction + (1.0 - cfg.min_lr_fraction) * cosine)


def budget_progress(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    parts = []
    if cfg.steps:
        parts.append(step / cfg.steps)
    if cfg.minutes:
        parts.append(elapsed_s / (cfg.minutes * 60.0))
    return max(parts)


def train_step(
    model: FaceAnythingModel,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    targets: Targets,
    weights: LossWeights,
    grad_clip: float,
    device: torch.device,
) -> dict[str, float]:
    """One optimisation step; returns the loss terms as floats."""
    model.train()
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        pred = model(images)
    terms = compute_losses(pred, targets, weights)
    optimizer.zero_grad(set_to_none=True)
    terms["total"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return {k: float(v.detach()) for k, v in terms.items()}


class Trainer:
    """Owns the run directory: state, history, checkpoints, plots."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(cfg.device)
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.step = 0
        self.elapsed_s = 0.0
        self.history: list[dict] = []
        self.heldout: list[dict] = []
        self.best_error = float("inf")
        self.ema: dict[str, float] = {}
        self.stop_reason: str | None = None
        if cfg.resume and (self.out / CHECKPOINT_NAME).is_file():
            self._load_checkpoint()
        else:
            self.model = build_model(cfg).to(self.device)
            self.optimizer = build_optimizer(self.model, cfg)
        if self.model.config.prior_channels and not cfg.prior_input:
            self.cfg = cfg = replace(cfg, prior_input=True)  # weights that take the prior keep it
        self.heldout_batch = None
        self.pools: dict[str, ReplayPool] = {}

    # ---- state -------------------------------------------------------------
    def _load_checkpoint(self) -> None:
        state = torch.load(self.out / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
        self.model = FaceAnythingModel(ModelConfig.from_dict(state["model_config"]))
        self.model.load_state_dict(state["model"])
        self.model.encoder.freeze(self.cfg.freeze_stages, self.cfg.frozen_batchnorm)
        self.model.to(self.device)
        self.optimizer = build_optimizer(self.model, self.cfg)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.elapsed_s = float(state["elapsed_s"])
        self.history = list(state["history"])
        self.heldout = list(state["heldout"])
        self.best_error = float(state["best_error"])
        self.ema = dict(self.history[-1]) if self.history else {}
        self.ema.pop("step", None)
        log.info("resumed %s at step %d (%.1f min trained)", self.out, self.step, self.elapsed_s / 60)

    def _metadata(self) -> dict:
        return {
            "steps": self.step,
            "train_minutes": round(self.elapsed_s / 60.0, 2),
            "images_seen": self.step * self.cfg.batch,
            "batch": self.cfg.batch,
            "image_size": self.cfg.image_size,
            "device": str(self.device),
            "torch_threads": self.cfg.threads,
            "data": "face_anything_ros.synth FaceSequenceGenerator(SynthConfig("
            f"supersample_probability={training_synth_config(self.cfg).supersample_probability}), split='train')",
            "heldout": self.heldout[-1] if self.heldout else None,
            "prior_input": asdict(self.cfg.prior_noise) if self.model.config.prior_channels else None,
            "echo_factor_last_session": round(self.pools["crops"].echo_factor, 2) if self.pools else None,
            "train_config": json.loads(json.dumps(asdict(self.cfg), default=str)),
        }

    def save_checkpoint(self) -> None:
        try:
            metrics = self.evaluate_heldout()
        except Exception:  # a monitoring failure must never cost the training state
            log.exception("held-out evaluation failed; saving the checkpoint without it")
            metrics = None
        state = {
            "model": self.model.state_dict(),
            "model_config": self.model.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "history": self.history,
            "heldout": self.heldout,
            "best_error": self.best_error,
        }
        tmp = self.out / (CHECKPOINT_NAME + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.out / CHECKPOINT_NAME)
        save_model(self.model, self.out / "model.pt", self._metadata())
        if metrics is not None and metrics["canonical_error"] < self.best_error:
            self.best_error = metrics["canonical_error"]
            save_model(self.model, self.out / "best.pt", self._metadata())
        self._plot()
        log.info("checkpoint at step %d → %s", self.step, self.out)

    # ---- monitoring --------------------------------------------------------
    def evaluate_heldout(self) -> dict | None:
        from face_anything_ros.training.validation import heldout_metrics, predict_numpy
        from face_anything_ros.training.visualize import save_prediction_grid

        if self.cfg.heldout_crops <= 0:
            return None
        if self.heldout_batch is None:
            self.heldout_batch = self._heldout_batch()
        metrics = heldout_metrics(self.model, self.heldout_batch).to_dict()
        if "prior" in self.heldout_batch:  # the same crops without the prior (faces BlazeFace finds)
            alone = {k: v for k, v in self.heldout_batch.items() if k != "prior"}
            metrics["canonical_error_no_prior"] = heldout_metrics(self.model, alone).canonical_error
        metrics["step"] = self.step
        metrics["minutes"] = round(self.elapsed_s / 60.0, 2)
        if not self.heldout or self.heldout[-1]["step"] != self.step:
            self.heldout.append(metrics)
        with open(self.out / "heldout.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(metrics) + "\n")
        self.model.eval()
        save_prediction_grid(
            self.out / "preview.png",
            self.heldout_batch,
            predict_numpy(self.model, self.heldout_batch["image"][:6], _first(self.heldout_batch.get("prior"), 6)),
        )
        return metrics

    def _heldout_batch(self) -> dict[str, np.ndarray]:
        from face_anything_ros.training.validation import make_heldout_batch

        batch = make_heldout_batch(self.cfg.heldout_crops, self.cfg.image_size)
        if self.model.config.prior_channels:
            add_heldout_prior(batch, self.cfg.prior_noise)
        return batch

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        if not self.history:
            return
        steps = [h["step"] for h in self.history]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for key in ("total", "canonical_l1", "depth_l1", "depth_grad", "mask_bce"):
            axes[0].plot(steps, [h.get(key, np.nan) for h in self.history], label=key)
        axes[0].set_yscale("log")
        axes[0].set_xlabel("step")
        axes[0].set_title("training losses (EMA)")
        axes[0].legend()
        if self.heldout:
            hs = [h["step"] for h in self.heldout]
            axes[1].plot(hs, [h["canonical_error"] for h in self.heldout], "o-", label="canonical error")
            axes[1].plot(hs, [h["depth_absrel"] for h in self.heldout], "o-", label="depth AbsRel")
            axes[1].plot(hs, [1 - h["mask_iou"] for h in self.heldout], "o-", label="1 - mask IoU")
            axes[1].set_yscale("log")
            axes[1].legend()
        axes[1].set_xlabel("step")
        axes[1].set_title("held-out test-split crops")
        fig.tight_layout()
        fig.savefig(self.out / "loss.png", dpi=90)
        plt.close(fig)

    # ---- loop --------------------------------------------------------------
    def _install_signal_handlers(self) -> dict[int, object]:
        """Ctrl-C / SIGTERM request a clean stop (checkpoint, then exit); returns the handlers they replace."""

        def request_stop(signum, _frame):
            self.stop_reason = signal.Signals(signum).name

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def run(self) -> dict:
        """Train until the budget is spent or a stop is requested; the caller's signal handlers come back after."""
        previous = self._install_signal_handlers()
        try:
            return self._train()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _train(self) -> dict:
        from tqdm import tqdm

        cfg = self.cfg
        if cfg.heldout_crops > 0:
            # render the held-out crops now, with the generator code the workers also import
            self.heldout_batch = self._heldout_batch()
        feeder = BatchFeeder(cfg, seed=cfg.seed + self.step)
        pools = {
            "crops": ReplayPool(cfg.pool_size),
            "windows": ReplayPool(max(1, cfg.pool_size // (4 * cfg.window_frames))),
        }
        rng = np.random.default_rng(cfg.seed + self.step + 1)
        self.pools = pools
        total = cfg.steps if cfg.steps else None
        bar = tqdm(
            total=total,
            initial=self.step,
            desc="train",
            unit="step",
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
            dynamic_ncols=True,
        )
        last_checkpoint = time.monotonic()
        started = time.monotonic()
        images_done = 0
        while self.stop_reason is None:
            progress = budget_progress(cfg, self.step, self.elapsed_s)
            if progress >= 1.0:
                self.stop_reason = "budget"
                break
            tick = time.monotonic()
            try:
                images, targets = self._next_batch(feeder, pools, rng)
            except RuntimeError:
                log.exception(
                    "data generation failed; saving a checkpoint and stopping (resume with --resume)"
                )
                self.stop_reason = "data error"
                break
            if images is None:
                continue
            lr = learning_rate(cfg, self.step, progress)
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            terms = train_step(
                self.model,
                self.optimizer,
                images.to(self.device, non_blocking=True),
                targets_to(targets, self.device),
                cfg.losses,
                cfg.grad_clip,
                self.device,
            )
            self.step += 1
            self.elapsed_s += time.monotonic() - tick
            images_done += images.shape[0] * (images.shape[1] if images.dim() == 5 else 1)
            self._record(terms)
            bar.update(1)
            bar.set_postfix(
                loss=f"{self.ema['total']:.3f}",
                canon=f"{self.ema['canonical_l1']:.3f}",
                lr=f"{lr:.1e}",
                refresh=False,
            )
            if time.monotonic() - last_checkpoint > cfg.checkpoint_minutes * 60.0:
                self.save_checkpoint()
                last_checkpoint = time.monotonic()
        bar.close()
        feeder.close()
        self.save_checkpoint()
        wall = time.monotonic() - started
        summary = {
            "stop_reason": self.stop_reason,
            "steps": self.step,
            "train_minutes": round(self.elapsed_s / 60.0, 2),
            "images_per_s_this_session": round(images_done / max(wall, 1e-6), 2),
            "generated_crops_this_session": pools["crops"].added + cfg.window_frames * pools["windows"].added,
            "echo_factor": round(pools["crops"].echo_factor, 2),
            "heldout": self.heldout[-1] if self.heldout else None,
            "out": str(self.out),
        }
        with open(self.out / "summary.json", "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
        return summary

    def _next_batch(
        self, feeder: BatchFeeder, pools: dict[str, ReplayPool], rng: np.random.Generator
    ) -> tuple[torch.Tensor | None, Targets | None]:
        """Move generated batches into the pools, draw and augment one.

        Rendering a crop costs several training samples' worth of CPU, so new data is
        pulled only while the echo factor is above ``target_echo`` (the worker blocks on
        a full queue otherwise), and the loop only waits when the pool is too small.
        """
        while True:
            starving = pools["crops"].size < self.cfg.batch
            if not starving and pools["crops"].echo_factor < self.cfg.target_echo:
                break  # leave new batches queued: the worker blocks and the CPU trains instead
            item = feeder.get(block=starving)
            if item is None:
                break
            kind, batch = item
            pools[kind].add(batch)
            if self.stop_reason is not None:
                return None, None
        if pools["crops"].size < self.cfg.batch:
            return None, None
        use_windows = pools["windows"].size > 0 and rng.random() < self.cfg.window_prob
        if use_windows:
            batch = pools["windows"].sample(max(1, self.cfg.batch // self.cfg.window_frames), rng)
        else:
            batch = pools["crops"].sample(self.cfg.batch, rng)
        if self.model.config.prior_channels:
            add_prior_channels(batch, rng, self.cfg.prior_noise)  # fresh errors on every draw
        augment_batch(batch, rng, self.cfg.augment)
        return batch_to_tensors(batch)

    def _record(self, terms: dict[str, float]) -> None:
        for key, value in terms.items():
            if not math.isfinite(value):
                raise FloatingPointError(f"loss term {key} became {value} at step {self.step}")
            self.ema[key] = (
                value if key not in self.ema else HISTORY_EMA * self.ema[key] + (1 - HISTORY_EMA) * value
            )
        if self.step % 10 == 0 or self.step == 1:
            self.history.append({"step": self.step, **{k: round(v, 5) for k, v in self.ema.items()}})


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) a training run; returns the closing summary."""
    return Trainer(cfg).run()


def _first(array: np.ndarray | None, count: int) -> np.ndarray | None:
    return None if array is None else array[:count]
