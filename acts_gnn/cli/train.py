"""``acts-gnn train``: train embedding, filter and GNN; write a model bundle.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.cli._console import make_console


def command(
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
    gnn_iterations: Annotated[int, typer.Option(help="GNN message-passing steps.")] = 6,
    gnn_sectors: Annotated[
        int, typer.Option(help="φ sectors per event in GNN training (more, smaller steps).")
    ] = 16,
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
            "to 1–10 GeV): more weight for the rare high-pT tracks; 0 weighs all alike.",
        ),
    ] = 0.5,
    reuse: Annotated[
        Path | None,
        typer.Option(
            help="Take the embedding and filter (radius and cut too) from this bundle and train "
            "the GNN only (see --reuse-stages).",
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
            help="With --reuse: keep all of that bundle (models and cuts) and train only the "
            "candidate-quality selection.",
        ),
    ] = False,
    device: Annotated[
        str | None,
        typer.Option(
            help="Where to train: cpu, cuda, cuda:N or auto (default: ACTS_GNN_DEVICE if set, "
            "else CUDA when present). The cut scan and test scoring run there too.",
            show_default=False,
        ),
    ] = None,
    data_description: Annotated[
        str, typer.Option(help="How the data were made (recorded in the bundle).")
    ] = "",
    force: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
) -> None:
    """Train the pipeline's models stage by stage and write a model bundle.

    The embedding, the filter and the GNN (validation edge efficiency and purity printed per
    epoch; each stage stops early when the validation loss stalls for PATIENCE epochs), the GNN
    and stitching cuts chosen on validation tracks, then the candidate-quality selection (trained
    on the training events' candidates, its cut chosen on the validation events).
    """
    from acts_gnn.cpus import resolve_threads, use_threads
    from acts_gnn.cuda.device import resolve_device
    from acts_gnn.errors import ConfigError, OutputRefusedError
    from acts_gnn.gnn.bundle import ModelBundle
    from acts_gnn.gnn.models import EmbeddingConfig, FilterConfig, GNNConfig
    from acts_gnn.gnn.train import REUSABLE_STAGES, TrainingConfig
    from acts_gnn.io.atomic import check_output
    from acts_gnn.io.source import open_events
    from acts_gnn.reco.recipe import train_recipe

    if (output / "bundle.json").exists() and not force:
        raise OutputRefusedError(f"{output}: a bundle is there already (use --force to replace it)")
    check_output(output / "bundle.json", overwrite=True)  # can its directory be made?
    console = make_console(stderr=True)
    device = resolve_device(device)
    use_threads(resolve_threads())  # the CPUs this process may use ($ACTS_GNN_THREADS overrides)
    config = TrainingConfig(
        seed=seed,
        target_pt_gev=target_pt,
        embedding=EmbeddingConfig(hidden=128),
        filter=FilterConfig(hidden=64),
        gnn=GNNConfig(hidden=gnn_hidden, iterations=gnn_iterations),
        embedding_epochs=embedding_epochs,
        filter_epochs=filter_epochs,
        gnn_epochs=gnn_epochs,
        patience=patience,
        max_neighbours=max_neighbours,
        gnn_sectors=gnn_sectors,
        soft_edges=soft_edges,
        true_edge_pt_power=true_edge_pt_power,
        filter_max_inverse_pt=filter_max_inverse_pt if filter_max_inverse_pt > 0 else None,
    )
    if quality_only and reuse is None:
        raise ConfigError("--quality-only needs --reuse BUNDLE (the bundle to add it to)")
    if filter_max_inverse_pt < 0:
        raise ConfigError(
            f"--filter-max-inverse-pt must be positive (or 0: off), got {filter_max_inverse_pt:g}"
        )
    stages = tuple(s.strip() for s in reuse_stages.split(","))
    if stages not in REUSABLE_STAGES:
        raise ConfigError(
            f"--reuse-stages {reuse_stages!r}: expected "
            + " or ".join(repr(",".join(s)) for s in REUSABLE_STAGES)
        )
    reused = ModelBundle.load(reuse) if reuse is not None else None
    sources = [("training", open_events(train)), ("validation", open_events(val))]
    if test:
        sources.append(("test", open_events(test)))
    events = {}
    for name, source in sources:
        loaded = []
        with console.status(f"reading {len(source)} {name} events"):
            for event in source:
                if event.truth is None:
                    raise ConfigError(f"{event.source}: {name} events need truth")
                loaded.append(event)
        events[name] = loaded

    def report(entry) -> None:
        console.print(
            f"{entry.stage:9s} epoch {entry.epoch:2d}  loss {entry.train_loss:.4f}  "
            f"val loss {entry.val_loss:.4f}  val edge eff {entry.val_efficiency:.4f}  "
            f"purity {entry.val_purity:.4f}  ({entry.seconds:.0f} s)"
        )

    with console.status("training") as status:
        bundle = train_recipe(
            events["training"],
            events["validation"],
            events.get("test", ()),
            config,
            report=report,
            status=lambda text: status.update(text),
            reuse=reused,
            device=device,
            quality_only=quality_only,
            reuse_stages=stages,
        )
    # --quality-only: the run's own record goes with the quality selection it trained; the rest
    # of the bundle keeps the record of how it was made
    record = bundle.training.setdefault("quality", {}) if quality_only else bundle.training
    record.update(
        {
            "train_inputs": [str(p) for p in train],
            "validation_inputs": [str(p) for p in val],
            "train_event_ids": [e.event_id for e in events["training"]],
            "validation_event_ids": [e.event_id for e in events["validation"]],
            "test_inputs": [str(p) for p in test or []],
            "data": data_description,
            "device": device,
        }
    )
    bundle.save(output)
    console.print(f"wrote {output}: {bundle.pipeline}")
