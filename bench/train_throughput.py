"""Training speed of ``vae.train.train`` against the TensorFlow CVAE tutorial's loop.

Run from the repository root:  python bench/train_throughput.py  [--quick]  [--help]

Method. One process on one machine trains the default architecture (``VAEConfig``'s
conv encoder and transposed-conv decoder, J = 2) on real MNIST, statically
binarized with ``vae.data.to_model_input``, with several *variants*:

* ``reference``: written like the TensorFlow CVAE tutorial: batch 32, Adam 1e-4,
  SGVB-A (one-sample Monte Carlo of log p(x|z) + log p(z) - log q(z|x)), a plain
  ``@tf.function`` step, ``Dataset.from_tensor_slices(x).shuffle(60000).batch(32)``.
  The network is ``vae.model.build_vae``'s; the loss and the step are the tutorial's.
* ``ours-default``: ``vae.train.train(VAEConfig())`` unchanged.
* ``ours-best``: ``vae.train.train`` with the best settings we found (bench/README.md).
* more with ``--ours NAME:key=value,...`` (config fields; ``compile.<arg>=...`` passes
  extra ``keras.Model.compile`` arguments such as ``jit_compile`` or
  ``steps_per_execution`` to measure a change to vae/ before making it).

Every variant is timed on a *training clock*: the seconds spent in training steps,
tracing of the first step included (any user pays it), test evaluation excluded.
Every ``--eval-every`` training images the test -ELBO is computed with
``vae.evaluate.elbo_summary`` (analytic KL, the full 10k test set, fixed noise).
Reported per variant:

* ``images_per_s``: the training rate over the steps after the first ``--warmup-steps``;
* ``seconds_to_target``: the training clock at the first evaluation whose test -ELBO
  is <= ``--target`` (155.9 nats, the tutorial's figure); a variant stops there, or at
  its time cap (``--ref-cap`` for the reference, ``--cap`` for the others).

Then the machine's ceiling: the model's FLOPs per training image (counted from the
layer shapes), a big float32 and bfloat16 matmul's GFLOP/s, the measured time of the
forward, forward+backward and whole Adam step at each variant's batch size (plain
tf.functions on one batch: no pipeline, no fit), and each layer's forward+backward
time at the last variant's batch size. Together they say how far a variant is from
what this CPU can do, and where the time goes.

The machine may be shared: each variant records the share of CPU time that other
processes took while it ran (``others_cpu_share``), and ``--wait-quiet`` first waits
for a low load. Rates still vary by about 10-15 % from run to run on a quiet VM.

Progress goes to stderr. stdout gets a table, the throughput targets met or missed (by
how much, and why), and, last, one JSON line with every figure.

One job per file: this is the command line and the run; the variants are in
``throughput_variants.py``, the reference's loop in ``tutorial_loop.py``, ``train()``'s
in ``timed_train.py``, the test -ELBO clock in ``elbo_tracker.py``, FLOP counting in
``flops.py``, the ceiling in ``profile_step.py``, the machine and its load in
``machine.py``, and the table and verdicts in ``throughput_report.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import keras
import tensorflow as tf
from elbo_tracker import Tracker
from machine import (
    cpu_share_or_none,
    machine,
    other_training_runs,
    start_cpu_share,
    wait_until_quiet,
)
from profile_step import ceiling
from progress_log import log
from throughput_report import TARGET_NEG_ELBO, print_table, verdicts
from throughput_variants import default_variants, describe, parse_ours
from timed_train import run_ours
from tutorial_loop import run_reference

from vae.data import load_dataset, to_model_input


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Method and recorded figures: bench/README.md.",
    )
    p.add_argument(
        "--variants",
        default="reference,ours-default,ours-best",
        help="comma-separated: reference, ours-default, ours-best and any --ours NAME",
    )
    p.add_argument(
        "--ours",
        action="append",
        type=parse_ours,
        default=[],
        metavar="NAME:key=value,...",
        help="an extra train() variant from VAEConfig fields and compile.<arg> overrides; "
        "runs when NAME is in --variants (or --variants is left at its default)",
    )
    p.add_argument("--target", type=float, default=TARGET_NEG_ELBO, help="test -ELBO in nats")
    p.add_argument("--ref-cap", type=float, default=300.0, help="training seconds, reference")
    p.add_argument("--cap", type=float, default=120.0, help="training seconds, other variants")
    p.add_argument("--eval-every", type=int, default=5_000, help="training images between tests")
    p.add_argument("--warmup-steps", type=int, default=30, help="steps left out of the rate")
    p.add_argument("--no-ceiling", action="store_true", help="skip the matmul peak and profile")
    p.add_argument("--intra-op", type=int, help="TensorFlow intra-op threads (default: TF's)")
    p.add_argument("--inter-op", type=int, help="TensorFlow inter-op threads (default: TF's)")
    p.add_argument("--json", type=Path, help="also write the summary JSON to this file")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for load < 1 and no other 'vae train'",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 8 s per variant, 2,000 test images, a short ceiling",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    available = default_variants() | {v.name: v for v in args.ours}
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if args.variants == build_parser().get_default("variants"):
        names += [v.name for v in args.ours]
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"error: unknown variants {unknown}; known: {', '.join(available)}", file=sys.stderr)
        return 2
    variants = [available[n] for n in names]
    if args.quick:
        args.ref_cap = min(args.ref_cap, 8.0)
        args.cap = min(args.cap, 8.0)
        args.eval_every = min(args.eval_every, 2_500)

    quiet = wait_until_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    if quiet is False:
        log("warning: the machine did not get quiet; measuring under load")
    started = dt.datetime.now().astimezone()
    others = other_training_runs()
    if others:
        log(f"warning: other training runs share this machine: {others}")
    load_start = os.getloadavg()
    ds = load_dataset("mnist")
    x_train = to_model_input(ds.x_train, "bernoulli")
    x_test = to_model_input(ds.x_test, "bernoulli")
    if args.quick:
        x_test = x_test[:2000]
    log(f"data: MNIST from {ds.source}: {len(x_train)} train, {len(x_test)} test images")

    results: dict[str, dict] = {}
    for variant in variants:
        log(f"{variant.name}: {describe(variant)}")

        def make_tracker(model, variant=variant):
            return Tracker(
                variant.name,
                model,
                x_test,
                args.target,
                args.ref_cap if variant.is_reference else args.cap,
                args.eval_every,
                args.warmup_steps,
            )

        share = start_cpu_share()
        if variant.is_reference:
            tracker = run_reference(variant.config, x_train, make_tracker)
        else:
            tracker = run_ours(variant.config, variant.compile_args, x_train, make_tracker)
        results[variant.name] = {
            "config": describe(variant),
            **tracker.summary(),
            **cpu_share_or_none(share),
        }
        r = results[variant.name]
        reached = f"in {r['seconds_to_target']:.1f} s" if r["reached_target"] else "not reached"
        log(f"{variant.name}: {r['images_per_s']:.0f} img/s, target {reached}")
        keras.backend.clear_session()

    ref_rate = results.get("reference", {}).get("images_per_s")
    for r in results.values():
        r["ratio_to_reference"] = round(r["images_per_s"] / ref_rate, 3) if ref_rate else None

    ceil = None
    if not args.no_ceiling:
        share = start_cpu_share()
        ceil = ceiling({v.name: v.config for v in variants}, args.quick)
        ceil.update(cpu_share_or_none(share))

    best = (
        "ours-best"
        if "ours-best" in results
        else next((n for n in reversed(results) if n != "reference"), "")
    )
    print()
    print_table(results, args.target)
    notes = verdicts(results, ceil, best)
    if notes:
        print(f"\ntargets for {best}:")
        for line in notes:
            print(f"  {line}")
    summary = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["bench/train_throughput.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load_average_start": [round(v, 2) for v in load_start],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "other_training_runs": others,
        "quick": args.quick,
        "target_neg_elbo": args.target,
        "eval_every_images": args.eval_every,
        "test_images": len(x_test),
        "variants": {
            name: {k: v for k, v in r.items() if k != "curve"} for name, r in results.items()
        },
        "ceiling": ceil,
        "targets": {"best": best, "verdicts": notes},
    }
    if args.json:  # the file also keeps every test -ELBO on the way
        curves = {name: r["curve"] for name, r in results.items()}
        args.json.write_text(json.dumps({**summary, "curves": curves}, indent=2) + "\n")
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
