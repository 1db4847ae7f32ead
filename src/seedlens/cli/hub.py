"""``seedlens hub ...``: the data hub from the command line (a thin layer over :mod:`seedlens.hub`).

Every command takes ``--hub PATH|URL`` (default: ``SEEDLENS_HUB``, else the hub recorded by
``seedlens hub init``). Errors print one clear message and exit with status 2 (as every seedlens
command); ``verify`` exits with status 1 when it finds a problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from seedlens.hub.hub import Hub
    from seedlens.hub.local import LocalHub

app = typer.Typer(no_args_is_help=True, help="The data hub: catalog, blob store, REST API, bundles.")
token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens.")
app.add_typer(token_app, name="token")

HubOption = Annotated[
    str | None,
    typer.Option("--hub", envvar="SEEDLENS_HUB", help="Hub folder, database URL, http(s) URL or bundle "
                 "(default: the hub recorded by `seedlens hub init`)."),
]
WhereOption = Annotated[
    str | None, typer.Option("--where", help='Filter, e.g. \'species = "wheat" and lot in ("L1")\'')
]
ProjectOption = Annotated[str | None, typer.Option("--project", help="Only this project.")]


def _err(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)


def _warn(message: str) -> None:
    typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn seedlens errors into a message on stderr and exit status 2."""
    from seedlens.errors import SeedlensError

    try:
        yield
    except SeedlensError as err:
        _err(f"error: {err}")
        raise typer.Exit(2) from None


def _open_any(hub: str | None) -> Hub:
    from seedlens.hub.hub import Hub

    return Hub.open(hub)


def _open_local(hub: str | None, *, read_only: bool = False) -> LocalHub:
    from seedlens.hub.errors import HubError
    from seedlens.hub.hub import Hub
    from seedlens.hub.local import LocalHub

    opened = Hub.open(hub, read_only=read_only)
    if not isinstance(opened, LocalHub):
        opened.close()
        raise HubError(f"this command needs a local hub (folder, database URL or bundle); got {opened.location}")
    return opened


@app.command()
def init(
    url: Annotated[str | None, typer.Option("--url", help="Hub folder or database URL (default: "
                                            "$XDG_DATA_HOME/seedlens/hub, a SQLite file + blob folder).")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Blob store: a folder or fsspec URL such as "
                                              "s3://bucket/prefix (required for PostgreSQL).")] = None,
    default: Annotated[bool, typer.Option("--default/--no-default", help="Record it as the default hub.")] = True,
) -> None:
    """Create a hub (or upgrade its catalog schema) and record it as the default hub."""
    from seedlens.hub.hub import Hub
    from seedlens.hub.settings import write_default_hub

    with _errors():
        hub = Hub.init(url, store)
        where = hub.location
        store_url = hub.store.url
        hub.close()
        typer.echo(f"hub ready: {_display(where)} (blobs: {store_url})")
        if default:
            path = write_default_hub(where)
            typer.echo(f"default hub recorded in {path}")


def _display(location: str) -> str:
    from seedlens.hub.local import _safe_url

    return _safe_url(location) if "://" in location else location


@app.command("import")
def import_(
    folder: Annotated[Path, typer.Argument(help="Folder of scans (searched recursively).")],
    modality: Annotated[str, typer.Option("--modality", "-m", help="image, volume, cube or table.")],
    labels: Annotated[Path | None, typer.Option("--labels", help="CSV with a sample_id column.")] = None,
    id_pattern: Annotated[str | None, typer.Option("--id-pattern", help="Regex taking the sample id from each "
                                                   "relative path (group 'id' or 1).")] = None,
    project: Annotated[str, typer.Option("--project", help="Project of the samples.")] = "default",
    keep_phi: Annotated[bool, typer.Option("--keep-phi", help="Store DICOM without de-identification.")] = False,
    split_seeds: Annotated[bool, typer.Option(
        "--split-seeds", help="CT: also store each grain of every scan as its own sample, linked to it.")] = False,
    split_threshold: Annotated[str, typer.Option(
        help="With --split-seeds: auto, multiotsu, otsu or an intensity (see 'seedlens seeds split').")] = "auto",
    grain_size: Annotated[float | None, typer.Option(
        help="With --split-seeds: typical grain width in voxels (default: estimated).")] = None,
    hub: HubOption = None,
) -> None:
    """Import every file under FOLDER; idempotent (a second run adds nothing)."""
    with _errors():
        opened = _open_any(hub)
        try:
            from seedlens.cli.seeds import parse_threshold
            from seedlens.hub.local import LocalHub

            options = {"threshold": parse_threshold(split_threshold), "grain_size": grain_size}
            extra = {"split_seeds": True, "split_options": options} if split_seeds else {}
            if extra and not isinstance(opened, LocalHub):
                from seedlens.hub.errors import HubError

                raise HubError("--split-seeds works on a local hub (folder, database URL); split the scans with "
                               "'seedlens seeds split' and import the grain folder into a remote hub")
            report = opened.import_dir(folder, modality, labels=labels, id_pattern=id_pattern, project=project,
                                       keep_phi=keep_phi, progress=lambda m: typer.echo(m, err=True), **extra)
        finally:
            opened.close()
        for warning in report.warnings:
            _warn(warning)
        typer.echo(report.summary())


@app.command()
def split(
    by: Annotated[str, typer.Option("--by", help="Field whose groups never straddle two splits (lot, a trait...).")],
    ratios: Annotated[str, typer.Option("--ratios", help="Comma-separated shares, e.g. 60,20,20.")] = "60,20,20",
    seed: Annotated[int, typer.Option("--seed", help="Shuffle seed.")] = 0,
    names: Annotated[str | None, typer.Option("--names", help="Split names (default train,val,test).")] = None,
    where: WhereOption = None,
    project: ProjectOption = None,
    hub: HubOption = None,
) -> None:
    """Assign train/val/test splits grouped by a field."""
    with _errors():
        opened = _open_any(hub)
        try:
            report = opened.split(by, ratios, seed=seed, where=where, project=project,
                                  names=names.split(",") if names else None)
        finally:
            opened.close()
        for warning in report.warnings:
            _warn(warning)
        typer.echo(report.summary())


@app.command("ls")
def ls(
    where: WhereOption = None,
    project: ProjectOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one array of samples).")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many samples (0: all).")] = 100,
    hub: HubOption = None,
) -> None:
    """List samples matching --where."""
    from seedlens.hub.hub import Hub

    with _errors():
        opened = Hub.open(hub)
        try:
            samples = opened.samples(where, project=project, limit=limit or None)
            total = opened.count(where, project=project) if not as_json else len(samples)
        finally:
            opened.close()
        if as_json:
            typer.echo(json.dumps([s.model_dump(mode="json") for s in samples], indent=1))
            return
        _table(samples, total)


def _table(samples: list[Any], total: int) -> None:
    """Print samples as a table; label columns empty for every listed sample are left out, so it fits 80 columns.

    A "from" column names the sample(s) a sample's derived acquisitions were cut out of (seed provenance);
    it appears only when some listed sample has one.
    """
    from rich.console import Console
    from rich.table import Table

    rows: list[dict[str, str]] = []
    for s in samples:
        rows.append({
            "project": s.project, "sample_id": s.sample_id, "species": s.species or "", "genotype": s.genotype or "",
            "lot": s.lot or "", "harvest": s.harvest or "", "split": s.split or "", "germination": s.germination or "",
            "modalities": ",".join(sorted({a.modality for a in s.acquisitions})), "tags": ",".join(s.tags),
            "from": ",".join(sorted({a.parent.sample_id for a in s.acquisitions if a.parent is not None})),
        })
    always = ("project", "sample_id", "modalities")
    columns = [c for c in ("project", "sample_id", "species", "genotype", "lot", "harvest", "split", "germination",
                           "modalities", "tags", "from")
               if c in always or any(row[c] for row in rows)]
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    console = Console()
    console.print(table)
    console.print(f"{len(samples)} of {total} matching sample(s)")


@app.command()
def info(hub: HubOption = None) -> None:
    """Show counts, projects and the fields usable in --where."""
    from seedlens.hub.hub import Hub

    with _errors():
        opened = Hub.open(hub)
        try:
            facts = opened.info()
        finally:
            opened.close()
        typer.echo(f"hub: {_display(opened.location)}{' (bundle, read-only)' if facts.bundle else ''}")
        typer.echo(f"samples: {facts.samples}, acquisitions: {facts.acquisitions}")
        typer.echo(f"projects: {', '.join(facts.projects) or '-'}")
        typer.echo("fields: " + ", ".join(f"{f.name} ({f.kind})" for f in facts.fields))


@token_app.command("create")
def token_create(
    scope: Annotated[str, typer.Option("--scope", help="read, write or admin.")] = "read",
    name: Annotated[str | None, typer.Option("--name", help="A unique name (default: <scope>-<random>).")] = None,
    hub: HubOption = None,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    import secrets

    with _errors():
        opened = _open_any(hub)
        try:
            info_, token = opened.create_token(name or f"{scope}-{secrets.token_hex(3)}", scope)
        finally:
            opened.close()
        typer.echo(f"created {info_.scope} token {info_.name!r}; store it now, it is not shown again:", err=True)
        typer.echo(token)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")], hub: HubOption = None) -> None:
    """Revoke a token; the server refuses it from then on."""
    with _errors():
        opened = _open_any(hub)
        try:
            opened.revoke_token(name)
        finally:
            opened.close()
        typer.echo(f"revoked token {name!r}")


@token_app.command("list")
def token_list(hub: HubOption = None) -> None:
    """List tokens (names and scopes, never secrets)."""
    with _errors():
        opened = _open_any(hub)
        try:
            rows = opened.tokens()
        finally:
            opened.close()
        for row in rows:
            typer.echo(f"{row.name}\t{row.scope}\t{'revoked' if row.revoked else 'active'}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8765,
    bundle: Annotated[Path | None, typer.Option("--bundle", help="Serve this bundle read-only.")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse writes.")] = False,
    hub: HubOption = None,
) -> None:
    """Serve the REST API (uvicorn). A bundle has no tokens: SEEDLENS_TOKEN, or a printed one, is accepted."""
    import uvicorn

    from seedlens.hub.api import create_app
    from seedlens.hub.settings import HubSettings
    from seedlens.hub.tokens import StaticTokens, generate

    with _errors():
        settings = HubSettings.from_env()
        opened = _open_local(str(bundle) if bundle is not None else hub, read_only=read_only or bundle is not None)
        extra = StaticTokens()
        if opened.is_bundle:
            token = settings.token_value()
            if not token:
                token = generate()[2]
                typer.echo(f"read token for this bundle (set SEEDLENS_TOKEN to choose one): {token}", err=True)
            extra.add(token, "bundle-reader", "read")
        application = create_app(settings, hub=opened, static_tokens=extra)
        typer.echo(f"serving {_display(opened.location)} on http://{host}:{port} "
                   "(web interface at /ui, API docs at /docs)", err=True)
        try:
            uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)
        finally:
            opened.close()


@app.command("bundle")
def bundle_(
    out: Annotated[Path, typer.Option("--out", help="Bundle folder to create, or a path ending in .tar.")],
    where: WhereOption = None,
    project: ProjectOption = None,
    hub: HubOption = None,
) -> None:
    """Compile the samples matching --where into a self-contained, checksummed bundle."""
    from seedlens.hub.hub import Hub

    with _errors():
        opened = Hub.open(hub)
        try:
            path = opened.bundle(out, where, project=project)
        finally:
            opened.close()
        typer.echo(f"bundle written: {path}")


@app.command()
def verify(
    bundle: Annotated[Path | None, typer.Argument(help="A bundle (folder or .tar); default: the hub.")] = None,
    hub: HubOption = None,
) -> None:
    """Re-hash every blob and check the catalog; exit 1 on any problem."""
    from seedlens.hub.bundle import verify_bundle

    with _errors():
        if bundle is not None:
            report = verify_bundle(bundle)
        else:
            opened = _open_local(hub, read_only=True)
            try:
                report = verify_bundle(opened.location) if opened.is_bundle else opened.verify()
            finally:
                opened.close()
    for warning in report.warnings:
        _warn(warning)
    for problem in report.problems:
        _err(f"problem: {problem}")
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def merge(
    source: Annotated[Path, typer.Argument(help="A bundle (folder or .tar) or another hub folder.")],
    hub: HubOption = None,
) -> None:
    """Merge a bundle or hub into this hub without duplicates."""
    with _errors():
        opened = _open_local(hub)
        try:
            report = opened.merge(source)
        finally:
            opened.close()
        for conflict in report.conflicts[:50]:
            _warn(conflict)
        typer.echo(report.summary())

