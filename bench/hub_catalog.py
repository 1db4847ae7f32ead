r"""Catalog benchmark: 1,000,000 generated samples in PostgreSQL, p95 of typical filtered queries, EXPLAIN plans.

    SEEDLENS_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:55432/seedlens_test \\
        python bench/hub_catalog.py [--rows 1000000] [--repeats 30]

Creates a fresh database on the server, ``Hub.init`` (Alembic migrations, so the real indexes),
generates the rows server-side (samples with species/genotype/lot/harvest/split/germination, two
numeric traits, tags, one acquisition each), ``ANALYZE``s, then times each ``--where`` expression
through the same code path as ``GET /api/v1/samples`` (compile + first page of 50 with tags, traits
and acquisitions) and a ``count``. Records ``EXPLAIN (ANALYZE, BUFFERS)`` of every page query and
whether it uses an index. Writes ``bench/results/hub_catalog.json`` and ``hub_catalog.md``; the
database is dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from seedlens.hub.catalog import queries
from seedlens.hub.catalog.models import Sample
from seedlens.hub.local import LocalHub

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 50.0
QUERIES = [
    'sample_id = "S0500000"',
    'species = "wheat" and lot = "L01234"',
    'germination = "abnormal" and split = "test"',
    'genotype in ("G007", "G042", "G123") and germination != "normal"',
    "oil_content > 47.5",
    'oil_content >= 44 and oil_content < 44.1 and species = "barley"',
    'tag = "outlier" and species = "rye"',
    'modality = "image" and harvest >= "2024-06-01" and harvest < "2024-06-08"',
    'species = "maize" and (germination = "dead" or tag = "cracked") and weight > 60',
]

GENERATE = [
    """INSERT INTO projects (id, name, created_at) VALUES (1, 'bench', now())""",
    """INSERT INTO samples (id, project_id, sample_id, species, genotype, lot, harvest, split, germination,
                           created_at, updated_at)
       SELECT i, 1, 'S' || lpad(i::text, 7, '0'),
              (ARRAY['wheat','barley','rye','maize','oat','pea'])[1 + (hashint(i, 1) % 6)],
              'G' || lpad((hashint(i, 2) % 200)::text, 3, '0'),
              'L' || lpad((hashint(i, 3) % 5000)::text, 5, '0'),
              to_char(date '2022-01-01' + (hashint(i, 4) % 1000)::int, 'YYYY-MM-DD'),
              (ARRAY['train','train','train','val','test'])[1 + (hashint(i, 5) % 5)],
              (ARRAY['normal','normal','normal','normal','normal','normal','normal','abnormal','abnormal','dead'])
                  [1 + (hashint(i, 6) % 10)],
              now(), now()
       FROM generate_series(1, :rows) AS i""",
    """INSERT INTO trait_defs (name, kind) VALUES ('oil_content', 'num'), ('weight', 'num')""",
    """INSERT INTO traits (sample_pk, name, num_value)
       SELECT i, 'oil_content', 35 + (hashint(i, 7) % 130000) / 10000.0 FROM generate_series(1, :rows) AS i""",
    """INSERT INTO traits (sample_pk, name, num_value)
       SELECT i, 'weight', 20 + (hashint(i, 8) % 5000) / 100.0 FROM generate_series(1, :rows) AS i""",
    """INSERT INTO tags (sample_pk, tag)
       SELECT i, 'batch' || lpad((hashint(i, 9) % 100)::text, 2, '0') FROM generate_series(1, :rows) AS i""",
    """INSERT INTO tags (sample_pk, tag)
       SELECT i, (ARRAY['outlier','cracked','mouldy'])[1 + (hashint(i, 10) % 3)]
       FROM generate_series(1, :rows) AS i WHERE hashint(i, 11) % 20 = 0""",
    """INSERT INTO acquisitions (id, sample_pk, modality, blob_hash, blob_kind, suffix, entry, source_name, size,
                                shape, dtype, created_at)
       SELECT i, i, CASE WHEN hashint(i, 12) % 5 = 0 THEN 'image' ELSE 'volume' END,
              encode(sha256(i::text::bytea), 'hex'), 'file', '.nii.gz', '', 'S' || i || '.nii.gz', 1000000,
              '[1, 64, 64, 64]', 'int16', now()
       FROM generate_series(1, :rows) AS i""",
]
HASHINT = """CREATE FUNCTION hashint(i bigint, salt int) RETURNS bigint LANGUAGE sql IMMUTABLE AS
             $$ SELECT abs(hashtextextended(i::text, salt)) $$"""


def timed(fn, repeats: int) -> tuple[list[float], object]:
    result = fn()
    for _ in range(2):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("SEEDLENS_TEST_PG_URL"),
                        help="PostgreSQL server URL (default SEEDLENS_TEST_PG_URL)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure a database kept by --keep (upgraded to head)")
    args = parser.parse_args()
    if not args.url:
        parser.error("give --url or set SEEDLENS_TEST_PG_URL (source scripts/postgres.sh start)")
    if args.reuse:
        reuse(args)
        return
    name = f"seedlens_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        server_version = conn.execute(text("show server_version")).scalar()
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as store:
            hub = LocalHub.create(url, store=store)
            start = time.perf_counter()
            with hub.engine.begin() as conn:
                conn.execute(text(HASHINT))
                for statement in GENERATE:
                    conn.execute(text(statement), {"rows": args.rows})
            with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            generated_s = time.perf_counter() - start
            print(f"generated {args.rows} samples in {generated_s:.0f} s")
            results = [measure(hub, where, args.repeats) for where in QUERIES]
            hub.close()
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    report(args, server_version, generated_s, results)


def reuse(args: argparse.Namespace) -> None:
    """Measure an already generated database (``hub init`` upgrades its schema first)."""
    url = make_url(args.url).set(database=args.reuse).render_as_string(hide_password=False)
    hub = LocalHub.create(url)
    with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        rows = conn.execute(text("select count(*) from samples")).scalar()
        server_version = conn.execute(text("show server_version")).scalar()
    args.rows = int(rows or 0)
    results = [measure(hub, where, args.repeats) for where in QUERIES]
    hub.close()
    previous = json.loads((RESULTS / "hub_catalog.json").read_text()) if (RESULTS / "hub_catalog.json").exists() else {}
    report(args, server_version, float(previous.get("generated_s", 0.0)), results)


def measure(hub: LocalHub, where: str, repeats: int) -> dict:
    with hub.session() as session:
        page_times, page = timed(lambda: queries.page_views(session, where, None, 50), repeats)
        count_times, count = timed(lambda: queries.count_samples(session, where, None), max(5, repeats // 3))
        statement = (select(Sample.id).where(*queries.sample_filter(session, where, None))
                     .order_by(Sample.id).limit(51))
        sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        plan = [row[0] for row in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))]
    rows, _ = cast(tuple[list[Any], Any], page)
    indexes = sorted({m for line in plan for m in re.findall(r"(?:using|on) ((?:ix|pk|uq)_\w+)", line)})
    uses_index = any("Index" in line for line in plan)
    stats = {"where": where, "matches": count, "page_rows": len(rows),
             "page_p50_ms": round(float(np.percentile(page_times, 50)), 2),
             "page_p95_ms": round(float(np.percentile(page_times, 95)), 2),
             "count_p95_ms": round(float(np.percentile(count_times, 95)), 2),
             "uses_index": uses_index, "indexes": indexes, "plan": plan}
    print(f"{where!r}: {count} matches, page p95 {stats['page_p95_ms']} ms, count p95 {stats['count_p95_ms']} ms, "
          f"indexes {', '.join(indexes) or 'NONE'}")
    return stats


def report(args: argparse.Namespace, server_version: object, generated_s: float, results: list[dict]) -> None:
    result = {
        "benchmark": "hub_catalog", "rows": args.rows, "repeats": args.repeats, "generated_s": round(generated_s, 1),
        "postgresql": str(server_version), "target_p95_ms": TARGET_MS,
        "all_pages_within_target": all(r["page_p95_ms"] <= TARGET_MS for r in results),
        "all_use_indexes": all(r["uses_index"] for r in results),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "measured": "first page of 50 samples with tags, traits and acquisitions (GET /api/v1/samples path), "
                    "and count(*), in-process, one connection",
        "queries": results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hub_catalog.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"Hub catalog: {args.rows:,} samples in PostgreSQL {server_version} ({result['machine']}); "
             f"first page of 50 (with tags, traits, acquisitions) and count, {args.repeats} repeats; "
             f"target p95 ≤ {TARGET_MS:.0f} ms.", "",
             "| where | matches | page p50 ms | page p95 ms | count p95 ms | indexes used (EXPLAIN) |",
             "|---|---:|---:|---:|---:|---|"]
    for r in results:
        where = r["where"].replace("|", "\\|")
        lines.append(f"| `{where}` | {r['matches']:,} | {r['page_p50_ms']} | {r['page_p95_ms']} | "
                     f"{r['count_p95_ms']} | {', '.join(r['indexes']) or 'none'} |")
    (RESULTS / "hub_catalog.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
