"""``python -m core map``: lay out precomputed vectors (fitted once, cached in the store) and write their 2-D
positions with each point's metadata."""

from __future__ import annotations

import argparse
import time

from core.vectors import files, maps


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``map`` to the lab's command line."""
    command = commands.add_parser(
        "map",
        help="lay out your own vectors (Projector TSV or config, Parquet) in 2-D; the fit is cached",
        description="Reads the vectors (and metadata), fits PCA then t-SNE or UMAP once (cached in the store by the "
        "vectors' SHA-256 and the settings: a second call loads it), and writes x, y with the metadata.",
    )
    add_source(command, positions=True)
    command.add_argument("--method", choices=maps.METHODS, default=maps.DEFAULTS.method)
    command.add_argument("--out", help="where to write the positions: .parquet, else CSV (default: none written)")
    more = command.add_argument_group("layout")
    more.add_argument("--pca", type=int, default=maps.DEFAULTS.pca, help="PCA components first (0: none)")
    more.add_argument("--perplexity", type=float, default=maps.DEFAULTS.perplexity)
    more.add_argument("--n-neighbors", type=int, default=maps.DEFAULTS.n_neighbors, help="UMAP's neighbourhood")
    more.add_argument("--seed", type=int, default=maps.DEFAULTS.random_state)
    more.add_argument("--force", action="store_true", help="fit again even when a fit is stored")
    command.set_defaults(run=_map)


def add_source(command: argparse.ArgumentParser, positions: bool = False) -> None:
    """The options that say where the points are (read by :func:`read_source`); ``positions``: also precomputed
    x, y and neighbours."""
    command.add_argument(
        "--vectors", required=True, help="vectors: .tsv (no header), projector_config.json or .parquet"
    )
    command.add_argument("--metadata", help="the Projector's metadata .tsv (a header line unless it has one column)")
    parquet = command.add_argument_group("Parquet and projector_config.json")
    parquet.add_argument("--vector-column", help="the list column holding the vectors")
    parquet.add_argument("--feature-columns", nargs="+", help="or the numeric columns that make the vectors")
    if positions:
        parquet.add_argument("--x", help="a column of precomputed x positions (with --y): nothing is fitted")
        parquet.add_argument("--y")
        parquet.add_argument("--neighbors", help="a list column of each point's neighbours (row indices)")
    parquet.add_argument("--tensor", help="which embedding of a projector_config.json (default: the first)")


def read_source(args: argparse.Namespace) -> files.VectorTable:
    """The points :func:`add_source`'s options name; a Parquet-only option given with a TSV is a user error."""
    options = {
        "vector_column": args.vector_column,
        "feature_columns": args.feature_columns,
        "x": getattr(args, "x", None),
        "y": getattr(args, "y", None),
        "neighbours": getattr(args, "neighbors", None),
    }
    if args.tensor:
        options = {"tensor": args.tensor}
    elif not str(args.vectors).lower().endswith(".parquet"):
        given = [f"--{'neighbors' if k == 'neighbours' else k.replace('_', '-')}" for k, v in options.items() if v]
        if given:
            raise ValueError(f"{', '.join(given)} apply to Parquet files only.")
        options = {}
    return files.load_vectors(args.vectors, args.metadata, **options)


def lazy_progress(label: str):
    """A progress callback whose bar is drawn from its first step on (nothing when the work is found done)."""
    from core.progress import progress_bar

    bars: list = []

    def progress(step: int, total: int, metrics: dict) -> None:
        bars or bars.append(progress_bar(label))
        bars[0](step, total, metrics)

    return progress


def _map(args: argparse.Namespace) -> dict:
    settings = maps.VectorMapSettings(args.method, args.pca, args.perplexity, args.n_neighbors, args.seed)
    settings.check()
    table = read_source(args)
    started = time.perf_counter()
    found = {"points": len(table), "dims": None if table.vectors is None else int(table.vectors.shape[1])}
    if table.coords is not None:
        coords, found["map"] = table.coords, "precomputed x, y"
    else:
        cached = not args.force and maps.find_map(table.vectors, settings) is not None
        artifact = maps.fit_map(table.vectors, settings, table.source, lazy_progress("layout"), force=args.force)
        coords = maps.load_coords(artifact)
        found |= {"map": artifact.id, "path": str(artifact.path), "cached": cached, "method": settings.method}
        found["fit_seconds"] = artifact.config.get("seconds")
    found["seconds"] = round(time.perf_counter() - started, 3)
    if args.out:
        found["out"] = str(maps.write_coords(coords, table, args.out))
    return found
