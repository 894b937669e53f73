"""Command line: ``python -m vae train|evaluate|sample|export``.

Every failure ends with one line on stderr and a non-zero exit code; set
``VAE_DEBUG=1`` to see the traceback as well. SIGINT (Ctrl-C) and SIGTERM stop a
training after the current batch and keep the last finished epoch; the exit code
is 130 after SIGINT and 143 after SIGTERM (128 + the signal's number, as shells
report them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class StopSignals:
    """Handlers for SIGINT and SIGTERM, set explicitly: a job started with ``&`` from a
    script inherits SIGINT ignored, and Python's default SIGTERM kills mid-write.

    While ``training`` is set, the first signal only asks the run to stop after the
    current batch (``requested`` is polled after every batch); otherwise, or at a
    second signal, it interrupts at once with KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.training = False

    def __call__(self, signum: int, frame) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if not (first and self.training):
            raise KeyboardInterrupt

    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return EXIT_TERMINATED if self.signum == signal.SIGTERM else EXIT_INTERRUPTED

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self  # only the main thread may set handlers; an embedding caller keeps its own
            return
        saved = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in saved.items():
                signal.signal(s, signal.SIG_DFL if handler is None else handler)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide TensorFlow's start-up chatter, which its C++ side prints before any log
    level applies; if the import fails, its output is printed after all."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _import_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_native_stderr():
        import tensorflow  # noqa: F401


def build_parser() -> argparse.ArgumentParser:
    from vae.config import ESTIMATORS, LR_SCHEDULES, PRECISIONS, STRATEGIES, VAEConfig
    from vae.data import DATASETS, DECODERS
    from vae.eval_budget import AFTER_TRAINING, DEFAULT

    d = VAEConfig()
    p = argparse.ArgumentParser(
        prog="python -m vae",
        description="Train, evaluate and sample a variational autoencoder (Kingma & Welling).",
        allow_abbrev=False,  # "--epoch 1" must be an error, not a guess at --epochs
    )
    sub = p.add_subparsers(
        dest="command",
        required=True,
        metavar="{train,evaluate,sample,export,export-html,posterior,precompute,import-keras}",
    )

    t = sub.add_parser(
        "train", help="train a model and save a checkpoint folder", allow_abbrev=False
    )
    t.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    t.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    t.add_argument("--latent-dim", type=int, default=d.latent_dim, help="J (default %(default)s)")
    t.add_argument("--epochs", type=int, default=d.epochs)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--lr", type=float, default=d.learning_rate, help="Adam learning rate")
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule)
    t.add_argument("--estimator", choices=ESTIMATORS, default=d.estimator)
    t.add_argument("--samples", type=int, default=d.n_samples, help="L, samples of z per image")
    t.add_argument("--beta", type=float, default=d.beta, help="KL weight (1 = true ELBO)")
    t.add_argument("--decoder", choices=DECODERS, default=d.decoder)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--precision", choices=PRECISIONS, default=d.precision)
    t.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    t.add_argument("--strategy", choices=STRATEGIES, default=STRATEGIES[0])
    t.add_argument("--no-eval", action="store_true", help="skip the final log p(x) evaluation")
    t.add_argument(
        "--full-eval",
        action="store_true",
        help="measure log p(x) on every test image at the careful budget of `evaluate --full` "
        "(minutes); by default a subset, in seconds",
    )
    _data_args(t)
    _eval_args(t, AFTER_TRAINING)

    e = sub.add_parser(
        "evaluate",
        help="print test-set metrics of a checkpoint as one JSON line",
        allow_abbrev=False,
    )
    e.add_argument("checkpoint", type=Path)
    e.add_argument("--write", action="store_true", help="also save them to metrics.json")
    e.add_argument(
        "--full",
        action="store_true",
        help="importance-weighted log p(x) on every test image too (by default "
        f"{DEFAULT.iw_images:,} of them, with the standard error)",
    )
    _data_args(e)
    _eval_args(e, DEFAULT)

    s = sub.add_parser("sample", help="decode prior samples into a PNG grid", allow_abbrev=False)
    s.add_argument("checkpoint", type=Path)
    s.add_argument("--out", type=Path, default=Path("samples.png"))
    s.add_argument("-n", type=int, default=64, help="number of samples (a square grid)")
    s.add_argument("--seed", type=int, default=0)

    x = sub.add_parser(
        "export",
        help="write the encoder and decoder as JSON + float32 weights for browsers",
        allow_abbrev=False,
    )
    x.add_argument("checkpoint", type=Path)
    x.add_argument(
        "--out", type=Path, required=True, help="folder for encoder.json/.bin, decoder.json/.bin"
    )
    h = sub.add_parser(
        "export-html",
        help="write the drag pad as one HTML file that works offline, for a class to open",
        allow_abbrev=False,
    )
    h.add_argument("checkpoint", type=Path)
    h.add_argument("--out", type=Path, required=True, help="the .html file to write")
    h.add_argument("--data-dir", type=Path, help="folder with .npz or IDX files (or VAE_DATA_DIR)")
    q = sub.add_parser(
        "posterior",
        help="the exact posterior of one test image (J = 2): log p(x), ELBO, KL(q || p(z|x))",
        allow_abbrev=False,
    )
    q.add_argument("checkpoint", type=Path)
    q.add_argument("--index", type=int, required=True, help="which test image (0-based)")
    q.add_argument("--out", type=Path, help="also draw p(z|x) with q's 1 and 2 sigma as a PNG")
    _data_args(q)
    c = sub.add_parser(
        "precompute",
        help="store what the app's pages show of a checkpoint beside it, so they open at once",
        allow_abbrev=False,
    )
    c.add_argument("checkpoint", type=Path)
    _import_keras_args(sub, d)
    return p


def _import_keras_args(sub, d) -> None:
    from vae.config import SIGMAS
    from vae.data import DATASETS
    from vae.import_keras import DEFAULT_SIGMA, ORIGINS

    k = sub.add_parser(
        "import-keras",
        help="turn the weights of the TensorFlow CVAE tutorial's or the Keras VAE example's "
        "model (model.save_weights) into a checkpoint folder",
        allow_abbrev=False,
    )
    k.add_argument("file", type=Path, help="the .weights.h5 file that save_weights wrote")
    k.add_argument("--from", dest="origin", required=True, choices=ORIGINS)
    k.add_argument("--latent-dim", type=int, required=True, help="J of the saved model")
    k.add_argument("--out", type=Path, required=True, help="new checkpoint folder to write")
    k.add_argument(
        "--sigma",
        choices=SIGMAS,
        default=DEFAULT_SIGMA,
        help="what the encoder's second half is: log sigma^2 (both examples) or "
        "sigma = softplus(raw) + min_std (default %(default)s)",
    )
    k.add_argument("--min-std", type=float, default=d.min_std, help="with --sigma softplus")
    k.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="what it was trained on")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="folder with .npz or IDX files (or VAE_DATA_DIR)")
    p.add_argument("--limit-train", type=int, help="use only the first N training images")
    p.add_argument("--limit-test", type=int, help="use only the first N test images")


def _eval_args(p: argparse.ArgumentParser, budget) -> None:
    """The evaluation settings; left out, they are ``budget``'s (vae.eval_budget)."""

    def images(n: int | None) -> str:
        return "all" if n is None else f"{n:,}"

    p.add_argument(
        "--iw-samples",
        type=int,
        help=f"K for importance weighting, 0 to skip (default {budget.iw_samples})",
    )
    p.add_argument(
        "--grid-size", type=int, help=f"quadrature grid per axis, J=2 (default {budget.grid_size})"
    )
    p.add_argument(
        "--eval-images",
        type=int,
        help="test images for log p(x), a fixed random subset (default: quadrature "
        f"{images(budget.grid_images)}, importance weighting {images(budget.iw_images)})",
    )


def _budget(args, budget):
    """The evaluation budget the command line asks for."""
    from vae.eval_budget import FULL

    if getattr(args, "full", False) or getattr(args, "full_eval", False):
        budget = FULL
    n = args.eval_images
    return budget.with_overrides(
        iw_samples=args.iw_samples, grid_size=args.grid_size, grid_images=n, iw_images=n
    )


def _check_args(args) -> None:
    """Reject absurd settings before TensorFlow starts or any data is read."""
    from vae.errors import ConfigError

    for name in ("limit_train", "limit_test"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {value} must be at least 1.")
    grid = getattr(args, "grid_size", None)
    if grid is not None and (grid < 4 or grid % 2 or grid > 2000):
        raise ConfigError(f"--grid-size {grid} must be an even number from 4 to 2000.")
    iw = getattr(args, "iw_samples", None)
    if iw is not None and not 0 <= iw <= 100_000:
        raise ConfigError(f"--iw-samples {iw} is out of range; choose 0 (skip) to 100000.")
    images = getattr(args, "eval_images", None)
    if images is not None and images < 1:
        raise ConfigError(f"--eval-images {images} must be at least 1.")
    n = getattr(args, "n", None)
    if n is not None and not 1 <= n <= 4096:
        raise ConfigError(f"-n {n} is out of range; choose 1 to 4096.")


def _config_from_args(args):
    from vae.config import VAEConfig

    return VAEConfig(
        latent_dim=args.latent_dim,
        decoder=args.decoder,
        estimator=args.estimator,
        n_samples=args.samples,
        beta=args.beta,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        lr_schedule=args.lr_schedule,
        seed=args.seed,
        precision=args.precision,
    )


def _load_data(args, dataset: str, decoder: str):
    from vae.data import load_dataset, to_model_input

    ds = load_dataset(dataset, data_dir=args.data_dir)
    print(f"data: {ds.name} from {ds.source}", file=sys.stderr)
    x_train = to_model_input(ds.x_train[: args.limit_train], decoder)
    x_test = to_model_input(ds.x_test[: args.limit_test], decoder)
    return x_train, x_test


def _progress_printer():
    from tqdm import tqdm

    bar = None

    def show(p) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=p.epochs * p.batches, unit="batch", file=sys.stderr, dynamic_ncols=True
            )
            bar.update((p.epoch - 1) * p.batches)
        if p.kind == "batch":
            bar.set_description(f"epoch {p.epoch}/{p.epochs}", refresh=False)
            rate = f"{p.images_per_s:.0f}" if p.measured else "measuring"
            bar.set_postfix(loss=f"{p.loss:.1f}", img_s=rate, refresh=False)
            bar.update((p.epoch - 1) * p.batches + p.batch - bar.n)  # redraws at most ~10/s
        elif p.kind == "test":
            bar.set_description(f"epoch {p.epoch}/{p.epochs}: test -ELBO", refresh=True)
        elif p.kind == "finish":
            bar.write("storing the pages' figures of the finished model…", file=sys.stderr)
        else:
            h = p.history[-1]
            bar.write(
                file=sys.stderr,
                s=f"epoch {h['epoch']:>3}: train -ELBO {h['train']['neg_elbo']:.2f}  "
                f"test -ELBO {h['test'].get('neg_elbo', float('nan')):.2f} "
                f"(recon {h['test'].get('recon', float('nan')):.2f}, "
                f"KL {h['test'].get('kl', float('nan')):.2f})  {h['images_per_s']:.0f} img/s",
            )

    def close() -> None:
        if bar is not None:
            bar.close()

    return show, close


@contextlib.contextmanager
def _eval_progress():
    """A progress bar for each phase of the evaluation (Ctrl-C stops it)."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def show(what: str, fraction: float) -> None:
        if what not in bars:
            for bar in bars.values():
                bar.close()
            bars[what] = tqdm(
                total=100, desc=f"evaluate: {what}", unit="%", file=sys.stderr, dynamic_ncols=True
            )
        bar = bars[what]
        bar.update(round(100 * fraction) - bar.n)

    try:
        yield show
    finally:
        for bar in bars.values():
            bar.close()


def _estimate_line(metrics: dict) -> str:
    """log p(x) as measured, with the number of images and the standard error of a subset."""
    parts = []
    for name, key, n_key in (
        ("log p(x)", "log_px", "log_px_images"),
        (f"iw log p(x) (K={metrics.get('iw_samples')})", "iw_log_px", "iw_images"),
    ):
        if metrics.get(key) is None:
            continue
        se = metrics.get(f"{key}_se") or 0.0
        where = f"all {metrics[n_key]:,}" if not se else f"{metrics[n_key]:,}"
        spread = f" ± {se:.2f} (standard error)" if se else ""
        parts.append(f"{name} {metrics[key]:.2f}{spread} on {where} test images")
    return "; ".join(parts)


def _say_nothing_to_train(out: Path, epochs_done: int, epochs: int) -> int:
    print(
        f"nothing to do: {out} already holds {epochs_done} finished epoch(s) and --epochs "
        f"is {epochs}; raise --epochs to train further.",
        file=sys.stderr,
    )
    return 0


def cmd_train(args) -> int:
    from vae import checkpoint, evaluate
    from vae.train import train

    config, stop = args.config, args.stop
    x_train, x_test = _load_data(args, config.dataset, config.decoder)
    show, close = _progress_printer()
    start = time.perf_counter()
    stop.training = True
    try:
        result = train(
            config,
            x_train,
            x_test,
            out_dir=args.out,
            progress=show,
            should_stop=stop.requested,
            resume=args.resume,
            strategy=args.strategy,
        )
    finally:
        stop.training = False
        close()
    if result.cancelled or stop.requested():
        by = signal.Signals(stop.signum or signal.SIGINT).name
        how = "" if by == "SIGINT" else f" ({by})"  # Ctrl-C keeps its familiar message
        print(
            f"interrupted{how}: kept {result.epochs_done} finished epoch(s) in {args.out}; "
            "continue with --resume.",
            file=sys.stderr,
        )
        return stop.exit_code
    if result.epochs_trained == 0:  # another run got there first; its metrics still hold
        return _say_nothing_to_train(args.out, result.epochs_done, config.epochs)
    summary = {
        "out": str(args.out),
        "epochs": result.epochs_done,
        "seconds": round(result.seconds, 2),
        "images_per_s": round(result.images_per_s, 1),
        "replicas": result.replicas,
    }
    if result.history:
        summary["test_neg_elbo"] = result.history[-1]["test"].get("neg_elbo")
    # The test -ELBO is already known (the last epoch's); say it before measuring more.
    print(
        f"trained {result.epochs_trained} epoch(s) in {result.seconds:.1f} s; "
        f"test -ELBO {summary.get('test_neg_elbo', float('nan')):.2f}",
        file=sys.stderr,
    )
    summary["precompute_seconds"] = round(result.precompute_seconds, 2)
    if not args.no_eval:
        budget = _budget(args, evaluate.AFTER_TRAINING)
        eval_start = time.perf_counter()
        try:
            with _eval_progress() as progress:
                metrics = evaluate.evaluate(
                    result.model,
                    x_test,
                    progress=progress,
                    elbo=result.history[-1]["test"] or None,  # the last epoch's, same noise
                    **evaluate.budget_options(budget),
                )
        except KeyboardInterrupt:
            print(
                f"evaluation interrupted: the checkpoint in {args.out} is complete; measure "
                f"log p(x) later with `python -m vae evaluate {args.out} --write`.",
                file=sys.stderr,
            )
            return stop.exit_code
        checkpoint.save_metrics(args.out, metrics)
        summary["eval_seconds"] = round(time.perf_counter() - eval_start, 2)
        print(
            f"evaluated in {summary['eval_seconds']:.1f} s: {_estimate_line(metrics)}",
            file=sys.stderr,
        )
        keys = ("neg_elbo", "recon", "kl", "log_px", "log_px_se", "iw_log_px", "iw_log_px_se")
        summary.update({k: metrics[k] for k in keys})
    summary["wall_seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(summary))
    return 0


def cmd_evaluate(args) -> int:
    from vae import checkpoint, evaluate

    ckpt = checkpoint.load_checkpoint(args.checkpoint)
    _, x_test = _load_data(args, ckpt.config.dataset, ckpt.config.decoder)
    budget = _budget(args, evaluate.DEFAULT)
    with _eval_progress() as progress:
        metrics = evaluate.evaluate(
            ckpt.model, x_test, progress=progress, **evaluate.budget_options(budget)
        )
    print(f"evaluated in {metrics['seconds']:.1f} s: {_estimate_line(metrics)}", file=sys.stderr)
    if args.write:
        checkpoint.save_metrics(args.checkpoint, metrics)
    print(json.dumps(metrics))
    return 0


def cmd_sample(args) -> int:
    from vae import checkpoint
    from vae.images import save_png, tile

    ckpt = checkpoint.load_checkpoint(args.checkpoint)
    images = ckpt.model.sample(args.n, seed=args.seed)
    save_png(tile(images), args.out)
    print(json.dumps({"out": str(args.out), "n": args.n, "seed": args.seed}))
    return 0


def cmd_export(args) -> int:
    from vae import checkpoint, export

    ckpt = checkpoint.load_checkpoint(args.checkpoint)
    written = export.write_model(ckpt.model, args.out)
    print(json.dumps({stem: {"spec": str(spec), "weights": str(weights),
                             "bytes": weights.stat().st_size}
                      for stem, (spec, weights) in written.items()}))  # fmt: skip
    return 0


def cmd_export_html(args) -> int:
    from vae import export_html

    size = export_html.export_checkpoint(
        args.checkpoint,
        args.out,
        data_dir=args.data_dir,
        progress=lambda message: print(f"export-html: {message}", file=sys.stderr),
    )
    print(export_html.size_line(args.out, size))
    return 0


def cmd_posterior(args) -> int:
    from vae import checkpoint, posterior
    from vae.errors import ConfigError

    ckpt = checkpoint.load_checkpoint(args.checkpoint)
    if ckpt.config.latent_dim != 2:
        raise ConfigError(
            f"the exact posterior needs latent_dim 2; {args.checkpoint} has "
            f"{ckpt.config.latent_dim}."
        )
    _, x_test = _load_data(args, ckpt.config.dataset, ckpt.config.decoder)
    if not 0 <= args.index < len(x_test):
        raise ConfigError(f"--index {args.index} is out of range; choose 0 to {len(x_test) - 1}.")
    post = posterior.exact_posterior(ckpt.model, x_test[args.index])
    out = {"index": args.index, **post.as_dict()}
    if args.out:
        from vae import images, latent_plane
        from vae.atomic import write_bytes_atomic

        density, extent = posterior.density_image(ckpt.model, x_test[args.index], post)
        curves = [(latent_plane.ellipse(post.z_mean, post.z_std, k), "white") for k in (1.0, 2.0)]
        marks = [(post.mode, "red"), (post.z_mean, "white")]
        write_bytes_atomic(args.out, images.plane_picture(density, extent, curves, marks))
        out["out"] = str(args.out)
    print(json.dumps(out))
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    from vae import precompute

    print(f"computing the pages' figures of {args.checkpoint} (about a minute)…", file=sys.stderr)
    path = precompute.write(args.checkpoint)
    print(json.dumps({"out": str(path) if path else None}))
    return 0


def cmd_import_keras(args) -> int:
    from vae.import_keras import import_keras

    out = import_keras(
        args.file,
        args.origin,
        args.latent_dim,
        args.out,
        sigma=args.sigma,
        min_std=args.min_std,
        dataset=args.dataset,
    )
    print(json.dumps({"out": str(out), "from": args.origin, "latent_dim": args.latent_dim}))
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "sample": cmd_sample,
    "export": cmd_export,
    "export-html": cmd_export_html,
    "posterior": cmd_posterior,
    "precompute": cmd_precompute,
    "import-keras": cmd_import_keras,
}


def main(argv: Sequence[str] | None = None) -> int:
    stop = StopSignals()
    with stop.installed():
        return _run(argv, stop)


def _run(argv: Sequence[str] | None, stop: StopSignals) -> int:
    args = build_parser().parse_args(argv)
    args.stop = stop
    try:
        _check_args(args)
        if args.command == "train":
            from vae.run_folder import check_run_folder

            args.config = _config_from_args(args)  # validated before TensorFlow starts
            done = check_run_folder(args.out, resume=args.resume)  # before any data is read
            if args.resume and done >= args.config.epochs:
                return _say_nothing_to_train(args.out, done, args.config.epochs)
        elif args.command != "import-keras":  # it reads a Keras file, not a checkpoint
            from vae.checkpoint import load_config

            # A malformed or too costly config is refused before TensorFlow starts.
            load_config(args.checkpoint)
        _import_tf()
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted.", file=sys.stderr)
        return stop.exit_code
    except Exception as exc:  # one line for the user; the traceback on request
        if os.environ.get("VAE_DEBUG"):
            raise
        from vae.errors import VAEError

        kind = "" if isinstance(exc, VAEError | ValueError | OSError) else f"{type(exc).__name__}: "
        print(f"error: {kind}{exc}".replace("\n", " "), file=sys.stderr)
        return EXIT_ERROR
