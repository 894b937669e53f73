"""The throughput benchmark's table, and each target met or missed: by how much, and why."""

from __future__ import annotations

from typing import Any

from profile_step import profile_key

TARGET_NEG_ELBO = 155.9  # nats: the tutorial's test -ELBO after its 10 epochs
TARGET_IMAGES_PER_S = 10_000.0  # the goals for train() on a 2-core machine
TARGET_RATIO = 2.5
TARGET_SECONDS = 30.0


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
    key = profile_key(ours["config"]["batch_size"], ours["config"]["precision"])
    prof = ceil["steps"].get(key)
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
    if layers and ceil["layers"]["config"] == key:
        total = sum(v["ms"] for v in layers.values())
        parts = ", ".join(
            f"{name} {v['ms']:.1f} ms ({v['ms'] / total:.0%}) at {v['gflops']:.0f} GFLOP/s"
            for name, v in sorted(layers.items(), key=lambda kv: -kv[1]["ms"])
        )
        text += f" Per layer, forward+backward alone: {parts}."
    return text


def verdicts(results: dict[str, dict], ceil: dict[str, Any] | None, best: str) -> list[str]:
    """One sentence per target for ``best``: met, or missed by how much and why."""
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
