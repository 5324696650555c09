"""``acts-gnn train``: train embedding, filter and GNN; write a model bundle.

Layer: cli.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.cli._common import (
    BranchOption,
    FormatOption,
    RootPresetOption,
    TreeOption,
    given_on_command_line,
    layout_options,
)
from acts_gnn.cli._console import make_console


def command(
    ctx: typer.Context,
    train: Annotated[
        list[Path],
        typer.Option("--train", help="Training events (with truth).", show_default=False),
    ],
    val: Annotated[
        list[Path],
        typer.Option("--val", help="Validation events (with truth).", show_default=False),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle directory to write.")],
    test: Annotated[
        list[Path] | None,
        typer.Option("--test", help="Held-out events scored at the end (recorded in the bundle)."),
    ] = None,
    tune: Annotated[
        list[Path] | None,
        typer.Option(
            "--tune",
            help="Events (never trained on, not the held-out ones) where the filter cut, the "
            "track builder and the rescue cuts are chosen on tracks; default: the validation "
            "events. More events than the validation's few make those choices less noisy.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of torch and numpy.")] = 0,
    target_pt: Annotated[
        float, typer.Option(help="Edges are true between points of one particle above this pT.")
    ] = 0.9,
    embedding_epochs: Annotated[int, typer.Option(help="Embedding epochs (max).")] = 5,
    filter_epochs: Annotated[int, typer.Option(help="Filter epochs (max).")] = 5,
    gnn_epochs: Annotated[int, typer.Option(help="GNN epochs (max).")] = 16,
    patience: Annotated[int, typer.Option(help="Early stopping patience in epochs.")] = 3,
    max_neighbours: Annotated[int, typer.Option(help="K1: neighbours kept per point.")] = 128,
    gnn_hidden: Annotated[int, typer.Option(help="GNN width.")] = 48,
    gnn_iterations: Annotated[
        int,
        typer.Option(
            help="GNN message-passing steps (with --warm-start they may differ from the reused"
            " GNN's: every step shares its weights)."
        ),
    ] = 6,
    gnn_sectors: Annotated[
        int, typer.Option(help="φ sectors per event in GNN training (more, smaller steps).")
    ] = 16,
    quality_open_ends: Annotated[
        bool,
        typer.Option(
            "--quality-open-ends",
            help="The candidate-quality selection also sees the fraction of a candidate's points"
            " whose detector region beyond holds no points (the barrel read alone, one side's"
            " endcaps), so that a track cut short by the region is not dropped as a fragment.",
        ),
    ] = False,
    soft_edges: Annotated[
        str,
        typer.Option(
            help="What an edge between two points of one particle below TARGET_PT is in the "
            "filter and GNN losses: ignore (left out), true (built as a track) or false.",
        ),
    ] = "ignore",
    true_edge_pt_power: Annotated[
        float,
        typer.Option(
            help="A true edge weighs (pT / 1 GeV)^this in the filter and GNN losses (pT clipped "
            "to 1–10 GeV): more weight for the rare high-pT tracks; 0 weighs all alike (the "
            "shipped model's GNN: 0.3).",
        ),
    ] = 0.0,
    truncate: Annotated[
        float,
        typer.Option(
            help="GNN: this fraction of the training steps sees its sub-graph cut to a random "
            "region (central |z|, one side's forward z, or inner r), so that tracks ending "
            "inside the detector — a barrel read alone, a track stopped early — are learnt; 0 "
            "(the shipped model's recipe): none.",
        ),
    ] = 0.0,
    stop_tracks: Annotated[
        float,
        typer.Option(
            help="GNN: in each training step this fraction of the particles keeps only a run "
            "of its points, as tracks that stop (hadronic interactions), start late "
            "(secondaries) or miss modules; 0: none.",
        ),
    ] = 0.0,
    latent_negatives: Annotated[
        int,
        typer.Option(
            help="Embedding: per point, this many nearest points of other particles in the "
            "current embedding (inside the margin) join the hard negatives, mined again every "
            "epoch; 0: only neighbours in (η, φ) (the shipped embedding was fine-tuned with "
            "16).",
        ),
    ] = 0,
    embedding_lr: Annotated[
        float, typer.Option(help="Embedding: peak learning rate (one-cycle schedule).")
    ] = 3e-3,
    gnn_lr: Annotated[
        float,
        typer.Option(
            help="GNN: peak learning rate (one-cycle schedule); with --warm-start a lower one "
            "fine-tunes the reused GNN without first unlearning it.",
        ),
    ] = 3e-3,
    fine_tune_embedding: Annotated[
        bool,
        typer.Option(
            help="With --reuse B --reuse-stages embedding: train B's embedding further for "
            "--embedding-epochs (its radius chosen again) before the filter and the GNN.",
        ),
    ] = False,
    filter_efficiency: Annotated[
        float,
        typer.Option(
            help="The filter's first cut keeps this fraction of the true validation edges; "
            "the recipe then tries it, ½, ¼ and ⅛ of it on tracks (--tune) and keeps the "
            "highest within 0.001 of the best efficiency − fake rate.",
        ),
    ] = 0.97,
    recut_filter: Annotated[
        bool,
        typer.Option(
            help="With --reuse B --reuse-stages embedding,filter: choose B's first filter cut "
            "again at --filter-efficiency instead of starting from B's (either is then scanned "
            "on tracks, as --filter-efficiency says).",
        ),
    ] = False,
    warm_start: Annotated[
        bool,
        typer.Option(
            help="With --reuse B: the filter and the GNN trained again start from B's weights "
            "(same sizes required), e.g. after --fine-tune-embedding.",
        ),
    ] = False,
    reuse: Annotated[
        Path | None,
        typer.Option(
            help="Take the embedding and filter (their radius, and the filter cut to start the "
            "scan from) from this bundle and train the GNN only (see --reuse-stages); the "
            "pre-selection is --filter-max-inverse-pt's.",
            show_default=False,
        ),
    ] = None,
    reuse_stages: Annotated[
        str,
        typer.Option(
            help="With --reuse: the stages taken from it, 'embedding,filter' (train the GNN) "
            "or 'embedding' (train the filter and the GNN).",
        ),
    ] = "embedding,filter",
    filter_max_inverse_pt: Annotated[
        float,
        typer.Option(
            help="Pre-selection before the filter network: drop edges whose circle through the "
            "beam line is tighter than this (0.36 · |q/pT| in 1/GeV; 5 ≈ a 0.07 GeV circle); "
            "0 turns it off.",
        ),
    ] = 5.0,
    quality_only: Annotated[
        bool,
        typer.Option(
            help="With --reuse: keep that bundle's models, radius and GNN and stitching cuts, "
            "train only the candidate-quality selection, then choose the filter cut, the track "
            "builder and the rescue cuts again (--tune); the pre-selection is "
            "--filter-max-inverse-pt's.",
        ),
    ] = False,
    device: Annotated[
        str | None,
        typer.Option(
            help="Where to train: cpu, cuda, cuda:N or auto (default: $ACTS_GNN_DEVICE, else auto: "
            "CUDA where torch sees a GPU). The cut scan and test scoring run there too.",
            show_default=False,
        ),
    ] = None,
    data_description: Annotated[
        str, typer.Option(help="How the data were made (recorded in the bundle).")
    ] = "",
    force: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
    input_format: FormatOption = None,
    root_preset: RootPresetOption = "spacepoints",
    tree: TreeOption = None,
    branch: BranchOption = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress, epochs or messages (the bundle is still written)."
        ),
    ] = False,
) -> None:
    """Train the pipeline's models stage by stage and write a model bundle.

    The embedding, the filter and the GNN (validation edge efficiency and purity printed per
    epoch; each stage stops early when the validation loss stalls for PATIENCE epochs), the GNN
    and stitching cuts chosen on validation tracks, the candidate-quality selection (trained
    on the training events' candidates, its cut chosen on the validation events), then the
    filter cut, the track builder and the rescue cuts chosen on the --tune events' tracks (the
    validation events' without), and the --test events scored.
    """
    _refuse_unused(ctx, reuse is not None, quality_only, reuse_stages, fine_tune_embedding)
    from acts_gnn.api import train as api  # torch-free: the request is checked before it loads

    _train(api, api.TrainRequest(
        train=tuple(train),
        val=tuple(val),
        output=output,
        config=api.TrainingConfig(
            seed=seed,
            target_pt_gev=target_pt,
            gnn=api.GNNConfig(hidden=gnn_hidden, iterations=gnn_iterations),
            embedding_epochs=embedding_epochs,
            filter_epochs=filter_epochs,
            gnn_epochs=gnn_epochs,
            quality_open_ends=quality_open_ends,
            patience=patience,
            max_neighbours=max_neighbours,
            gnn_sectors=gnn_sectors,
            soft_edges=soft_edges,
            true_edge_pt_power=true_edge_pt_power,
            truncate=truncate,
            stop_tracks=stop_tracks,
            latent_negatives=latent_negatives,
            embedding_lr=embedding_lr,
            gnn_lr=gnn_lr,
            fine_tune_embedding=fine_tune_embedding,
            warm_start=warm_start,
            filter_efficiency=filter_efficiency,
            recut_filter=recut_filter,
            filter_max_inverse_pt=api.pre_selection(filter_max_inverse_pt),
        ),
        test=tuple(test or ()), tune=tuple(tune or ()),
        reuse=reuse,
        reuse_stages=api.reuse_stages(reuse_stages),
        quality_only=quality_only,
        device=device,
        data_description=data_description,
        force=force,
        layout=layout_options(input_format, root_preset, tree, branch),
    ), quiet)  # fmt: skip


#: the options of each stage's training (what a stage kept from --reuse does not use)
_EMBEDDING_OPTIONS = ("embedding_epochs", "embedding_lr", "latent_negatives")
_FILTER_OPTIONS = ("filter_epochs",)
_GNN_OPTIONS = (
    "gnn_epochs", "gnn_lr", "gnn_hidden", "gnn_iterations", "gnn_sectors", "truncate",
    "stop_tracks",
)  # fmt: skip
#: what the embedding, filter and GNN training share (unused when only the quality selection is)
_SHARED_OPTIONS = (
    "target_pt", "patience", "max_neighbours", "soft_edges", "true_edge_pt_power",
    "filter_efficiency", "warm_start", "recut_filter",
)  # fmt: skip


def _refuse_unused(ctx, reused: bool, quality_only: bool, stages, fine_tune: bool) -> None:
    """Refuse options given on the command line that the run would not use (the stages kept
    from --reuse are not trained), as the other commands refuse rather than ignore them."""
    from acts_gnn.errors import ConfigError

    unused: tuple[str, ...] = ()
    if quality_only:
        unused = _EMBEDDING_OPTIONS + _FILTER_OPTIONS + _GNN_OPTIONS + _SHARED_OPTIONS
    elif reused and "filter" in stages:
        unused = _EMBEDDING_OPTIONS + _FILTER_OPTIONS
    elif reused and not fine_tune:
        unused = _EMBEDDING_OPTIONS
    given = given_on_command_line(ctx, unused)
    if given:
        why = "--quality-only trains" if quality_only else "with --reuse the run trains"
        raise ConfigError(
            f"{', '.join(given)}: {why} only the "
            f"{'candidate-quality selection' if quality_only else 'stages it does not reuse'}; "
            "these settings would be ignored"
        )


def _train(api, request, quiet: bool = False) -> None:
    """Run ``request`` with its epochs and stages on stderr (``quiet``: its warnings only)."""
    console = make_console(stderr=True, quiet=quiet)
    with console.status("checking") as status:
        bundle = api.train(
            request,
            report=lambda entry: console.print(_epoch_line(entry, _epoch_caps(request.config))),
            status=_stage_printer(console, status),
            warn=lambda text: typer.echo(f"acts-gnn: warning: {text}", err=True),
        )
    for line in _summary(request.output, bundle):
        console.print(line)


def _summary(output, bundle) -> list[str]:
    """What the run wrote: the pipeline's settings, and the held-out scores (``--test``)."""
    p = bundle.pipeline
    settings = [
        f"radius {p.radius:.3g}",
        f"k {p.max_neighbours}",
        f"filter cut {p.filter_cut:.3g}",
        f"{p.track_builder} at GNN cut {p.gnn_cut:.3g}",
    ]
    for name, value in (("stitch", p.stitch_cut), ("rescue", p.rescue_cut)):
        if value is not None:
            settings.append(f"{name} cut {value:.3g}")
    if p.quality_cut is not None:
        settings.append(f"quality cut {p.quality_cut:.3g}")
    lines = [f"wrote {output}: {', '.join(settings)}"]
    for builder, scores in bundle.metrics.tests.items():
        best = scores["selections"][0]
        lines.append(
            f"held-out ({scores['n_events']} event{'s' * (scores['n_events'] != 1)}, {builder}): "
            f"efficiency {_percent(best['efficiency'])}, fakes {_percent(best['fake_rate'])}, "
            f"duplicates {_percent(best['duplicate_rate'])} (candidates of at least "
            f"{best['min_track_spacepoints']} space points)"
        )
    return lines


def _percent(value) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.2%}"


def _stage_printer(console, status):
    """What shows a stage of the run: the spinner of a terminal; on a log file (a batch job), a
    line, or it would hear nothing until the first epoch ends."""

    def show(text: str) -> None:
        status.update(text)
        if not console.is_terminal:
            console.print(text)

    return show


def _epoch_caps(config) -> dict[str, int]:
    """Each stage's most epochs (early stopping may end it sooner)."""
    return {
        "embedding": config.embedding_epochs,
        "filter": config.filter_epochs,
        "gnn": config.gnn_epochs,
    }


def _epoch_line(entry, caps: dict[str, int]) -> str:
    """One epoch of the training log, as printed: its number of the stage's most epochs (the
    embedding has no edge purity)."""
    purity = "" if math.isnan(entry.val_purity) else f"purity {entry.val_purity:.4f}  "
    cap = caps.get(entry.stage)
    number = f"{entry.epoch + 1:2d}" + ("" if cap is None else f"/{cap}")
    return (
        f"{entry.stage:9s} epoch {number}  loss {entry.train_loss:.4f}  "
        f"val loss {entry.val_loss:.4f}  val edge eff {entry.val_efficiency:.4f}  "
        f"{purity}({entry.seconds:.0f} s)"
    )
