"""``face-anything train``: train the model on synthetic faces generated on the fly."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the Face Anything model on synthetic faces (CPU or GPU, resumable)",
        description=(
            "Train on crops rendered on the fly by the synthetic generator. Writes checkpoint.pt, "
            "model.pt/.json (latest), best.pt/.json (best held-out), loss.png and preview.png into --out "
            "every few minutes and on Ctrl-C / SIGTERM. Give --steps and/or --minutes."
        ),
    )
    parser.add_argument("--out", required=True, help="run directory, e.g. runs/small")
    parser.add_argument("--config", default="small", choices=("small", "base"), help="model size")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this much training time")
    parser.add_argument("--batch", type=int, default=8, help="crops per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--size", type=int, default=128, help="crop size (multiple of 32)")
    parser.add_argument("--window-prob", type=float, default=0.2, help="fraction of multi-frame steps")
    parser.add_argument("--frames", type=int, default=4, help="frames per multi-frame window")
    parser.add_argument(
        "--echo", type=float, default=3.0, help="target uses per generated crop (replay pool; 1 = all fresh)"
    )
    parser.add_argument("--workers", type=int, default=1, help="data generator processes (0: in-line)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0, help="checkpoint interval")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 …")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    parser.add_argument("--no-pretrained", action="store_true", help="do not load ImageNet encoder weights")
    parser.add_argument(
        "--init-weights",
        help="fine-tune from these weights (.pt with its .json sidecar), e.g. the shipped default model",
    )
    parser.add_argument(
        "--confidence-alpha",
        type=float,
        default=None,
        help="alpha of the canonical loss c*|e| - alpha*log c (a Laplace NLL whose largest scale is alpha/3; "
        "the confidence then says alpha/|e|); default: the loss's 0.05",
    )
    parser.add_argument(
        "--canonical-weight", type=float, default=None, help="weight of the canonical loss (default 1.0)"
    )
    parser.add_argument(
        "--reset-confidence-to",
        type=float,
        default=0.0,
        help="with --init-weights: restart the confidence head at this confidence (> 1), e.g. 5 with "
        "--confidence-alpha 0.5 for weights whose head sits at its floor of 1 (0.2.x weights), where it "
        "cannot learn; 0: keep it (the shipped 0.3 head is live)",
    )
    parser.add_argument(
        "--basic-augmentation",
        action="store_true",
        help="flip and photometric augmentation only (the list the 0.2.x weights were trained with)",
    )
    parser.add_argument(
        "--supersample-probability",
        type=float,
        default=None,
        help="share of training crops the generator renders at 2x and downsamples (default: the "
        "generator's, 0.5); lower it where many workers must feed a fast GPU",
    )
    parser.add_argument(
        "--prior-input",
        action="store_true",
        help="train a model that takes the face-mesh prior (the template fitted to the face mesh's "
        "landmarks) as extra input channels; with --init-weights of an image-only model the prior "
        "branch is added, starting from the same predictions (the canonical gate almost closed)",
    )
    parser.add_argument(
        "--prior-face-mesh-share",
        type=float,
        default=None,
        help="with --prior-input: share of the present training priors taken from the real face mesh run "
        "on the rendered crop, where it finds the face (the rest simulated; default 0.5)",
    )
    parser.add_argument(
        "--prior-strength",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=None,
        help="with --prior-input: log-uniform range of the simulated priors' error strength (default 0.25 4)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from dataclasses import replace

    from face_anything_ros.model.io import WeightsError
    from face_anything_ros.training.augment import basic_augmentation
    from face_anything_ros.training.losses import LossWeights
    from face_anything_ros.training.train import TrainConfig, train

    if args.steps is None and args.minutes is None:
        print("error: give --steps and/or --minutes", file=sys.stderr)
        return 2
    if args.size % 32 or args.batch < 1:
        print("error: --size must be a multiple of 32 and --batch ≥ 1", file=sys.stderr)
        return 2
    cfg = TrainConfig(
        out=args.out,
        model=args.config,
        steps=args.steps,
        minutes=args.minutes,
        batch=args.batch,
        lr=args.lr,
        image_size=args.size,
        window_prob=args.window_prob,
        window_frames=args.frames,
        workers=args.workers,
        target_echo=args.echo,
        threads=args.threads,
        checkpoint_minutes=args.checkpoint_minutes,
        device=args.device,
        seed=args.seed,
        resume=args.resume,
        pretrained=not args.no_pretrained,
        init_weights=args.init_weights,
        reset_confidence_to=args.reset_confidence_to,
        prior_input=args.prior_input,
    )
    overrides = {
        name: value
        for name, value in (("confidence_alpha", args.confidence_alpha), ("canonical", args.canonical_weight))
        if value is not None
    }
    if any(value <= 0 for value in overrides.values()):
        print("error: --confidence-alpha and --canonical-weight must be > 0", file=sys.stderr)
        return 2
    if overrides:
        cfg = replace(cfg, losses=replace(LossWeights(), **overrides))
    if args.supersample_probability is not None:
        if not 0.0 <= args.supersample_probability <= 1.0:
            print("error: --supersample-probability must be in [0, 1]", file=sys.stderr)
            return 2
        cfg = replace(cfg, supersample_probability=args.supersample_probability)
    noise = {
        name: value
        for name, value in (
            ("face_mesh_probability", args.prior_face_mesh_share),
            ("strength_range", None if args.prior_strength is None else tuple(args.prior_strength)),
        )
        if value is not None
    }
    if noise:
        if not args.prior_input:
            print("error: --prior-face-mesh-share and --prior-strength need --prior-input", file=sys.stderr)
            return 2
        try:
            cfg = replace(cfg, prior_noise=replace(cfg.prior_noise, **noise))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.basic_augmentation:
        cfg = replace(cfg, augment=basic_augmentation())
    try:
        summary = train(cfg)
    except (FileNotFoundError, ImportError, ValueError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0
