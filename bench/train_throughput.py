"""Training speed of ``vae.train.train`` against the TensorFlow CVAE tutorial's loop.

Run from the repository root:  python bench/train_throughput.py  [--quick]  [--help]

Method. One process on one machine trains the seed's architecture (``VAEConfig``'s
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

Progress goes to stderr. stdout gets a table, the issue's targets met or missed (by
how much, and why), and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae import evaluate  # noqa: E402
from vae import train as vae_train  # noqa: E402
from vae.config import VAEConfig  # noqa: E402
from vae.data import load_dataset, to_model_input  # noqa: E402
from vae.model import VAE, build_vae  # noqa: E402
from vae.train import train  # noqa: E402

TARGET_NEG_ELBO = 155.9  # nats: the tutorial's test -ELBO after its 10 epochs
TARGET_IMAGES_PER_S = 10_000.0  # the goals for ours on a 2-core machine
TARGET_RATIO = 2.5
TARGET_SECONDS = 30.0

# The tutorial's settings, on the seed's network.
REFERENCE_CONFIG = VAEConfig(batch_size=32, learning_rate=1e-4, estimator="sgvb-a")
# The fastest route to 155.9 nats found on a 2-core EPYC (figures in bench/README.md).
BEST_CONFIG = VAEConfig(batch_size=64, learning_rate=3e-3)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- tracking
@dataclass
class Tracker:
    """Test -ELBO against the training clock for one variant, and when it stops.

    A training loop calls ``after_step`` after every step (or every execution of
    several steps) with the training clock, which must exclude ``eval_seconds``.
    """

    name: str
    model: VAE
    x_test: np.ndarray
    target: float
    cap_s: float
    eval_every: int
    warmup_steps: int
    curve: list[dict[str, float]] = field(default_factory=list)
    eval_seconds: float = 0.0
    stop: str | None = None  # "target" or "cap"
    seconds_to_target: float | None = None
    images_to_target: int | None = None
    warm: tuple[int, int, float] | None = None  # (step, images, train_s) at warm-up's end
    last: tuple[int, int, float] = (0, 0, 0.0)
    _next_eval: int = 0
    _last_report: float = 0.0

    def __post_init__(self) -> None:
        self._next_eval = self.eval_every

    def after_step(self, step: int, images: int, train_s: float) -> bool:
        """Record a finished step; evaluate when due. True once the variant should stop."""
        if self.stop:
            return True
        self.last = (step, images, train_s)
        if self.warm is None and step >= self.warmup_steps:
            self.warm = self.last
        if images >= self._next_eval:
            self._evaluate(images, train_s)
            while self._next_eval <= images:
                self._next_eval += self.eval_every
            if self.curve[-1]["neg_elbo"] <= self.target:
                self.stop = "target"
                self.seconds_to_target, self.images_to_target = train_s, images
        if not self.stop and train_s >= self.cap_s:
            if not self.curve or self.curve[-1]["images"] != images:
                self._evaluate(images, train_s)
            self.stop = "cap"
        elif time.perf_counter() - self._last_report > 10.0:
            self._last_report = time.perf_counter()
            log(f"  {self.name}: {images:>8} images, {train_s:6.1f} s, {self.rate():6.0f} img/s")
        return self.stop is not None

    def _evaluate(self, images: int, train_s: float) -> None:
        start = time.perf_counter()
        terms = evaluate.elbo_summary(self.model, self.x_test)
        self.eval_seconds += time.perf_counter() - start
        point = {"images": images, "train_s": round(train_s, 3)}
        self.curve.append({**point, "neg_elbo": round(terms["neg_elbo"], 3)})
        log(
            f"  {self.name}: test -ELBO {terms['neg_elbo']:7.2f} after {images / 60000:5.2f} "
            f"epochs, {train_s:6.1f} s of training"
        )

    def rate(self) -> float:
        """Images/s after the warm-up (all steps if the run ended within it)."""
        _, images0, t0 = self.warm if self.warm and self.warm != self.last else (0, 0, 0.0)
        _, images, t = self.last
        return (images - images0) / (t - t0) if t > t0 else 0.0

    def summary(self) -> dict[str, Any]:
        step, images, train_s = self.last
        return {
            "images_per_s": round(self.rate(), 1),
            "seconds_to_target": _round(self.seconds_to_target, 2),
            "epochs_to_target": _round(
                self.images_to_target / 60000 if self.images_to_target else None, 3
            ),
            "reached_target": self.stop == "target",
            "stop": self.stop or "ended",
            "train_seconds": round(train_s, 2),
            "images": images,
            "steps": step,
            "warmup_seconds": round(self.warm[2], 2) if self.warm else None,
            "eval_seconds": round(self.eval_seconds, 2),
            "final_neg_elbo": self.curve[-1]["neg_elbo"] if self.curve else None,
            "curve": self.curve,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------- reference
# The tutorial's loss and step, kept as in tensorflow/docs tutorials/generative/cvae,
# except that the noise takes tf.shape (the tutorial's mean.shape breaks on a short batch).
def tutorial_log_normal_pdf(sample, mean, logvar, raxis=1):
    log2pi = tf.math.log(2.0 * np.pi)
    return tf.reduce_sum(
        -0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=raxis
    )


def tutorial_compute_loss(model: VAE, x: tf.Tensor) -> tf.Tensor:
    """Negative SGVB-A: -(log p(x|z) + log p(z) - log q(z|x)), one z per image."""
    mean, logvar = model.encode(x)
    z = tf.random.normal(tf.shape(mean)) * tf.exp(logvar * 0.5) + mean
    x_logit = model.decode(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
    logpz = tutorial_log_normal_pdf(z, 0.0, 0.0)
    logqz_x = tutorial_log_normal_pdf(z, mean, logvar)
    return -tf.reduce_mean(logpx_z + logpz - logqz_x)


@tf.function
def tutorial_train_step(model: VAE, x: tf.Tensor, optimizer) -> None:
    with tf.GradientTape() as tape:
        loss = tutorial_compute_loss(model, x)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))


def run_reference(x_train: np.ndarray, make_tracker: Callable[[VAE], Tracker]) -> Tracker:
    config = REFERENCE_CONFIG
    model = build_vae(config)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    tracker = make_tracker(model)
    train_dataset = (
        tf.data.Dataset.from_tensor_slices(x_train)
        .shuffle(len(x_train), seed=config.seed)
        .batch(config.batch_size)
    )
    step = images = 0
    start = time.perf_counter()
    while True:
        for train_x in train_dataset:
            tutorial_train_step(model, train_x, optimizer)  # synchronous on the CPU
            step += 1
            images += int(train_x.shape[0])
            clock = time.perf_counter() - start - tracker.eval_seconds
            if tracker.after_step(step, images, clock):
                return tracker


# --------------------------------------------------------------------------- ours
@contextlib.contextmanager
def compile_overrides(overrides: dict[str, Any]) -> Iterator[None]:
    """Make ``VAE.compile`` receive extra arguments while ``train`` runs.

    Measures what a change to ``vae/train.py`` would give without editing it.
    """
    if not overrides:
        yield
        return
    original = VAE.compile

    def patched(self, *args, **kwargs):
        return original(self, *args, **{**kwargs, **overrides})

    VAE.compile = patched
    try:
        yield
    finally:
        VAE.compile = original


@contextlib.contextmanager
def capture_model(built: list[VAE]) -> Iterator[None]:
    """Append the model that ``vae.train.train`` builds to ``built``.

    train() hands its model back only when it returns, but the tracker must evaluate
    it while it trains; wrapping ``vae.train.build_vae`` is the least intrusive hook.
    """
    original = vae_train.build_vae

    def build_and_keep(config: VAEConfig) -> VAE:
        built.append(original(config))
        return built[-1]

    vae_train.build_vae = build_and_keep
    try:
        yield
    finally:
        vae_train.build_vae = original


def run_ours(
    config: VAEConfig,
    compile_args: dict[str, Any],
    x_train: np.ndarray,
    make_tracker: Callable[[VAE], Tracker],
) -> Tracker:
    built: list[VAE] = []
    trackers: list[Tracker] = []

    def progress(p) -> None:
        if p.kind != "batch":
            return
        if not trackers:
            trackers.append(make_tracker(built[-1]))
        step = (p.epoch - 1) * p.batches + p.batch
        # elapsed_s is train()'s own clock: it leaves out train()'s per-epoch work but
        # includes the evaluations that this callback ran.
        clock = p.elapsed_s - trackers[0].eval_seconds
        trackers[0].after_step(step, step * config.batch_size, clock)

    def should_stop() -> bool:
        return bool(trackers) and trackers[0].stop is not None

    with capture_model(built), compile_overrides(compile_args):
        # No test set for train(): the tracker evaluates more often than once an epoch.
        train(config, x_train, x_train[:0], progress=progress, should_stop=should_stop)
    return trackers[0]


# --------------------------------------------------------------------------- ceiling
def layer_macs(model: VAE) -> list[tuple[keras.layers.Layer, int]]:
    """(layer, multiply-adds per image) for every layer with weights, input to output."""
    out = []
    for net in (model.encoder, model.decoder):
        for layer in net.layers:
            if not layer.weights:
                continue
            kernel = layer.kernel.shape
            if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel [k, k, out, in]
                _, h, w, _ = layer.input.shape
                out.append((layer, h * w * math.prod(kernel)))
            elif isinstance(layer, keras.layers.Conv2D):  # kernel [k, k, in, out]
                _, h, w, _ = layer.output.shape
                out.append((layer, h * w * math.prod(kernel)))
            else:  # Dense
                out.append((layer, math.prod(kernel)))
    return out


def train_flops_per_image(config: VAEConfig) -> dict[str, float]:
    """FLOPs of one image's forward and training (forward + backward) pass.

    Counted from the layer shapes as 2 x multiply-adds; backward is twice forward
    (input and weight gradients) minus the input gradient of the first layer.
    Element-wise work (activations, softplus, Adam) is left out.
    """
    macs = [m for _, m in layer_macs(build_vae(config))]
    forward = 2.0 * sum(macs)
    backward = 2.0 * forward - 2.0 * macs[0]
    return {"forward": forward, "train": forward + backward}


def layer_profile(config: VAEConfig, seconds: float) -> dict[str, dict[str, float]]:
    """Forward + backward time and GFLOP/s of each layer alone, at the config's batch.

    Shows where a step's time goes: layers with one input or output channel do
    little arithmetic per byte and run far below the matmul peak.
    """
    model = build_vae(config)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random([config.batch_size, *config.image_shape]) < 0.13, tf.float32)
    inputs = {}
    h = x
    for layer in model.encoder.layers[1:]:
        inputs[layer.name] = h
        h = layer(h)
    h = tf.random.stateless_normal([config.batch_size, config.latent_dim], seed=[0, 0])
    for layer in model.decoder.layers[1:]:
        inputs[layer.name] = h
        h = layer(h)
    out = {}
    for layer, macs in layer_macs(model):
        x_in = inputs[layer.name]

        @tf.function
        def forward_backward(layer=layer, x_in=x_in):
            with tf.GradientTape() as tape:
                tape.watch(x_in)
                y = layer(x_in)
            grads = [x_in, *layer.trainable_variables]
            return tape.gradient(y, grads, output_gradients=tf.ones_like(y))

        ms = _time_ms(forward_backward, seconds)
        gflops = 6.0 * macs * config.batch_size / (ms * 1e-3) / 1e9
        out[layer.name] = {
            "ms": round(ms, 3),
            "gflops": round(gflops, 1),
            "mmacs": round(macs / 1e6, 4),
        }
    return out


def _time_ms(fn: Callable[[], Any], seconds: float) -> float:
    """Mean ms per call of fn, after one untimed call that traces it."""
    fn()
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or reps < 3:
        fn()
        reps += 1
    return 1e3 * (time.perf_counter() - start) / reps


def matmul_gflops(dtype: tf.DType, n: int, seconds: float) -> float:
    """GFLOP/s of an n x n matmul: the most this CPU gives TensorFlow in practice."""
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)
    matmul = tf.function(tf.matmul)
    matmul(a, b).numpy()
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = matmul(a, b)
        reps += 1
    out.numpy()
    return 2.0 * n**3 * reps / (time.perf_counter() - start) / 1e9


def step_profile(config: VAEConfig, seconds: float) -> dict[str, float]:
    """ms per batch of the forward pass, forward + backward, and a whole Adam step.

    Runs the model's own ``elbo_terms`` in plain tf.functions on one fixed batch:
    no input pipeline, no Keras ``fit`` and no callbacks.
    """
    model = build_vae(config)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    x = tf.constant((rng.random([config.batch_size, *config.image_shape]) < 0.13), tf.float32)
    seed = tf.constant([0, 0])

    def loss_fn():
        return -tf.reduce_mean(model.elbo_terms(x, seed)["elbo"])

    @tf.function
    def forward():
        return loss_fn()

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, model.trainable_variables)

    @tf.function
    def full_step():
        grads = forward_backward()
        optimizer.apply(grads, model.trainable_variables)
        return grads[0]

    passes = {"forward": forward, "forward_backward": forward_backward, "step": full_step}
    out = {f"{name}_ms": round(_time_ms(fn, seconds), 3) for name, fn in passes.items()}
    out["step_images_per_s"] = round(config.batch_size / out["step_ms"] * 1e3, 1)
    return out


def profile_key(described: dict[str, Any]) -> str:
    return f"batch{described['batch_size']}-{described['precision']}"


def ceiling(configs: dict[str, VAEConfig], quick: bool) -> dict[str, Any]:
    log("ceiling: matmul peak and per-step profile")
    flops = train_flops_per_image(configs[next(iter(configs))])
    n, seconds = (1024, 0.5) if quick else (2048, 3.0)
    peak32 = matmul_gflops(tf.float32, n, seconds)
    peak16 = matmul_gflops(tf.bfloat16, n, seconds)
    result: dict[str, Any] = {
        "forward_mflop_per_image": round(flops["forward"] / 1e6, 3),
        "train_mflop_per_image": round(flops["train"] / 1e6, 3),
        "matmul_gflops_float32": round(peak32, 1),
        "matmul_gflops_bfloat16": round(peak16, 1),
        "images_per_s_at_float32_peak": round(peak32 * 1e9 / flops["train"], 0),
        "images_per_s_at_bfloat16_peak": round(peak16 * 1e9 / flops["train"], 0),
        "steps": {},
    }
    seen = set()
    for name, config in configs.items():
        key = (config.batch_size, config.precision)
        if key in seen:
            continue
        seen.add(key)
        prof = step_profile(config, 0.5 if quick else 3.0)
        achieved = prof["step_images_per_s"] * flops["train"] / 1e9
        peak = peak16 if config.precision == "mixed_bfloat16" else peak32
        prof["achieved_gflops"] = round(achieved, 1)
        prof["fraction_of_matmul_peak"] = round(achieved / peak, 3)
        result["steps"][profile_key(describe(Variant(name, config)))] = prof
        log(f"  {name}: batch {config.batch_size} {config.precision}: {prof}")
    last = configs[next(reversed(configs))]
    result["layers"] = {
        "config": profile_key(describe(Variant("", last))),
        **layer_profile(last, 0.3 if quick else 1.5),
    }
    log(f"  layers at {result['layers']['config']}: {result['layers']}")
    return result


# --------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class Variant:
    name: str
    config: VAEConfig  # for the reference: the network and the tutorial's settings
    compile_args: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        return self.name == "reference"


def default_variants() -> dict[str, Variant]:
    return {
        "reference": Variant("reference", REFERENCE_CONFIG),
        "ours-default": Variant("ours-default", VAEConfig()),
        "ours-best": Variant("ours-best", BEST_CONFIG),
    }


def parse_ours(spec: str) -> Variant:
    """'NAME:batch_size=256,learning_rate=2e-3,compile.steps_per_execution=8' -> Variant."""
    name, _, body = spec.partition(":")
    if not name or name in default_variants():
        raise argparse.ArgumentTypeError(f"--ours needs a new NAME before ':', got {spec!r}")
    changes: dict[str, Any] = {}
    compile_args: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, sep, raw = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--ours: {item!r} is not key=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare string such as mixed_bfloat16
        if key.startswith("compile."):
            compile_args[key.removeprefix("compile.")] = value
        else:
            changes[key] = value
    try:
        config = VAEConfig().replace(**changes)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"--ours {spec!r}: {exc}") from exc
    return Variant(name, config, compile_args)


def describe(variant: Variant) -> dict[str, Any]:
    c = variant.config
    out = {
        "batch_size": c.batch_size,
        "learning_rate": c.learning_rate,
        "estimator": c.estimator,
        "precision": c.precision,
    }
    if variant.compile_args:
        out["compile"] = variant.compile_args
    return out


# --------------------------------------------------------------------------- machine
@dataclass
class CpuShare:
    """How much of the machine other processes used while a variant ran.

    On a shared machine a figure is only as good as the cores it got; this makes
    the interference visible instead of silently lowering the rate.
    """

    wall: float = 0.0
    busy: float = 0.0
    steal: float = 0.0
    own: float = 0.0

    @staticmethod
    def now() -> CpuShare:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
        tick = os.sysconf("SC_CLK_TCK")
        t = os.times()
        return CpuShare(
            time.perf_counter(),
            (user + nice + system + irq + softirq) / tick,
            steal / tick,
            t.user + t.system,
        )

    def since(self, start: CpuShare) -> dict[str, float]:
        capacity = (self.wall - start.wall) * len(os.sched_getaffinity(0))
        others = (self.busy - start.busy) - (self.own - start.own)
        return {
            "others_cpu_share": round(max(0.0, others) / capacity, 3),
            "steal_share": round((self.steal - start.steal) / capacity, 3),
        }


def cpu_share_or_none(start: CpuShare | None) -> dict[str, float]:
    if start is None:
        return {}
    with contextlib.suppress(OSError, ValueError):
        return CpuShare.now().since(start)
    return {}


def start_cpu_share() -> CpuShare | None:
    with contextlib.suppress(OSError, ValueError):
        return CpuShare.now()
    return None


def wait_until_quiet(max_seconds: float, max_load: float = 1.0) -> bool:
    """Poll until no other 'vae train' runs and the 1-minute load is below max_load."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy = other_training_runs()
        load = os.getloadavg()[0]
        if not busy and load < max_load:
            return True
        if time.monotonic() >= deadline:
            return False
        log(f"waiting for a quiet machine: load {load:.2f}, other runs {len(busy)}")
        time.sleep(20)


def machine() -> dict[str, Any]:
    model_name = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model_name,
        "cpus": len(os.sched_getaffinity(0)),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def other_training_runs() -> list[str]:
    """Other 'vae train' processes, which would share the cores with this benchmark."""
    try:
        out = subprocess.run(["pgrep", "-af", "vae train"], capture_output=True, text=True)
    except OSError:
        return []
    return [line for line in out.stdout.splitlines() if str(os.getpid()) not in line.split()[:1]]


# --------------------------------------------------------------------------- report
def rate_explanation(ours: dict[str, Any], ceil: dict[str, Any]) -> str:
    """Why the rate is what it is: FLOPs needed, the matmul peak, the kernels' share of it."""
    mflop = ceil["train_mflop_per_image"]
    text = (
        f" Why: a training image costs {mflop:.1f} MFLOP, so {TARGET_IMAGES_PER_S:,.0f} img/s "
        f"needs {TARGET_IMAGES_PER_S * mflop / 1e3:.0f} GFLOP/s; a big float32 matmul gets "
        f"{ceil['matmul_gflops_float32']:.0f} GFLOP/s here (bfloat16 "
        f"{ceil['matmul_gflops_bfloat16']:.0f}), a ceiling of "
        f"{ceil['images_per_s_at_float32_peak']:,.0f} img/s."
    )
    prof = ceil["steps"].get(profile_key(ours["config"]))
    if prof:
        text += (
            f" The bare step (no input pipeline, no fit) gets {prof['achieved_gflops']:.0f} "
            f"GFLOP/s = {prof['step_images_per_s']:,.0f} img/s, "
            f"{prof['fraction_of_matmul_peak']:.0%} of that peak (forward {prof['forward_ms']:.1f}"
            f" ms, forward+backward {prof['forward_backward_ms']:.1f} ms, whole Adam step "
            f"{prof['step_ms']:.1f} ms per batch of {ours['config']['batch_size']}), and train() "
            f"runs at {ours['images_per_s'] / prof['step_images_per_s']:.0%} of the bare step: "
            "the convolution kernels, not the loop, are the limit."
        )
    layers = {k: v for k, v in ceil.get("layers", {}).items() if k != "config"}
    if layers and ceil["layers"]["config"] == profile_key(ours["config"]):
        total = sum(v["ms"] for v in layers.values())
        parts = ", ".join(
            f"{name} {v['ms']:.1f} ms ({v['ms'] / total:.0%}) at {v['gflops']:.0f} GFLOP/s"
            for name, v in sorted(layers.items(), key=lambda kv: -kv[1]["ms"])
        )
        text += f" Per layer, forward+backward alone: {parts}."
    return text


def verdicts(results: dict[str, dict], ceil: dict[str, Any] | None, best: str) -> list[str]:
    """One sentence per issue target for ``best``: met, or missed by how much and why."""
    ours = results.get(best)
    if ours is None:
        return []
    ref = results.get("reference")
    lines = []
    rate = ours["images_per_s"]
    why = rate_explanation(ours, ceil) if ceil else ""
    if rate >= TARGET_IMAGES_PER_S:
        lines.append(f"rate: met, {rate:,.0f} img/s >= {TARGET_IMAGES_PER_S:,.0f}.")
    else:
        lines.append(
            f"rate: missed, {rate:,.0f} img/s is {TARGET_IMAGES_PER_S - rate:,.0f} img/s "
            f"({1 - rate / TARGET_IMAGES_PER_S:.0%}) short of {TARGET_IMAGES_PER_S:,.0f}.{why}"
        )
    if ref and ref["images_per_s"]:
        ratio = rate / ref["images_per_s"]
        needed = TARGET_RATIO * ref["images_per_s"]
        lines.append(
            f"ratio: met, {ratio:.2f}x the reference (goal {TARGET_RATIO}x)."
            if ratio >= TARGET_RATIO
            else f"ratio: missed, {ratio:.2f}x the reference's {ref['images_per_s']:,.0f} img/s; "
            f"{TARGET_RATIO}x would need {needed:,.0f} img/s, {needed - rate:,.0f} more."
        )
    t = ours["seconds_to_target"]
    if t is not None and t <= TARGET_SECONDS:
        lines.append(f"time: met, {t:.1f} s of training to the target (goal {TARGET_SECONDS:g} s).")
    elif t is not None:
        lines.append(
            f"time: missed by {t - TARGET_SECONDS:.1f} s, {t:.1f} s of training to the target "
            f"(goal {TARGET_SECONDS:.0f} s)."
        )
    else:
        lines.append(
            f"time: missed, the target was not reached in {ours['train_seconds']:.0f} s "
            f"(best test -ELBO {min(p['neg_elbo'] for p in ours['curve']):.2f})."
        )
    return lines


def print_table(results: dict[str, dict], target: float) -> None:
    ref_rate = results.get("reference", {}).get("images_per_s")
    print(
        f"{'variant':<16} {'batch':>5} {'lr':>8} {'precision':>14} {'img/s':>8} {'x ref':>6} "
        f"{'s to ' + format(target, 'g'):>9} {'epochs':>6} {'final -ELBO':>11} {'others':>6}"
    )
    for name, r in results.items():
        c = r["config"]
        ratio = f"{r['images_per_s'] / ref_rate:.2f}" if ref_rate else "-"
        t = f"{r['seconds_to_target']:.1f}" if r["seconds_to_target"] is not None else "not yet"
        ep = f"{r['epochs_to_target']:.2f}" if r["epochs_to_target"] is not None else "-"
        others = f"{r['others_cpu_share']:.0%}" if "others_cpu_share" in r else "-"
        print(
            f"{name:<16} {c['batch_size']:>5} {c['learning_rate']:>8.0e} {c['precision']:>14} "
            f"{r['images_per_s']:>8.0f} {ratio:>6} {t:>9} {ep:>6} {r['final_neg_elbo']:>11.2f} "
            f"{others:>6}"
        )
    print("(others: share of the machine's CPU time used by other processes meanwhile)")
    loaded = [n for n, r in results.items() if r.get("others_cpu_share", 0) > 0.1]
    if loaded:
        print(f"warning: {', '.join(loaded)} shared the CPU with other processes; rerun quiet.")


# --------------------------------------------------------------------------- main
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
            tracker = run_reference(x_train, make_tracker)
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
        print(f"\nissue targets for {best}:")
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
        "issue_targets": {"best": best, "verdicts": notes},
    }
    if args.json:  # the file also keeps every test -ELBO on the way
        curves = {name: r["curve"] for name, r in results.items()}
        args.json.write_text(json.dumps({**summary, "curves": curves}, indent=2) + "\n")
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
