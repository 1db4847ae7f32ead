"""Load benchmark of a served hub: N concurrent clients listing, filtering and downloading on loopback.

    python bench/hub_load.py [--clients 50] [--duration 20] [--samples 500]

Builds a throw-away hub of small ``.npy`` scans, serves it with ``seedlens hub serve`` in a
subprocess (uvicorn, one process) and drives it with ``--clients`` concurrent asyncio/httpx clients
for ``--duration`` seconds. Each request is, at random: a page listing (40 %), a filtered listing
(30 %), or a blob download (30 %, a third of them byte ranges). Writes requests/s, p50/p95/p99 latency
per kind and the error count to ``bench/results/hub_load.json`` and a Markdown table to
``bench/results/hub_load.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from seedlens.hub.local import LocalHub
from seedlens.hub.testing import free_port, write_labels

RESULTS = Path(__file__).resolve().parent / "results"
FILTERS = ['species = "wheat"', 'germination = "abnormal" and lot in ("L01", "L02", "L03")', "oil > 45",
           'tag = "outlier" or species = "rye"', 'split = "test" and germination != "normal"']


def build_hub(root: Path, samples: int) -> tuple[Path, str]:
    folder = root / "scans"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(samples):
        sid = f"seed{i:05d}"
        np.save(folder / f"{sid}.npy", rng.random((1, 64, 64), dtype=np.float32))  # 16 KiB
        rows.append({"sample_id": sid, "species": ["wheat", "barley", "rye"][i % 3], "lot": f"L{i % 40:02d}",
                     "germination": ["normal", "normal", "abnormal", "dead"][i % 4], "oil": f"{40 + (i % 10)}",
                     "tags": "outlier" if i % 17 == 0 else ""})
    labels = write_labels(root / "labels.csv", rows)
    hub = LocalHub.create(root / "hub")
    hub.import_dir(folder, "image", labels=labels)
    hub.split("lot", "60,20,20")
    token = hub.create_token("bench", "read")[1]
    hub.close()
    return root / "hub", token


def start_server(hub: Path, port: int) -> subprocess.Popen:
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.Popen([sys.executable, "-c", "from seedlens.cli.main import main; main()", "hub", "serve",
                                "--hub", str(hub), "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


async def client(url: str, token: str, blobs: list[str], stop: float, seed: int, out: dict[str, list[float]],
                 errors: list[str]) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        while time.monotonic() < stop:
            pick = rng.random()
            headers: dict[str, str] = {}
            params: dict[str, Any]
            if pick < 0.4:
                kind, path, params = "list", "/api/v1/samples", {"limit": 50}
            elif pick < 0.7:
                kind, path, params = "filter", "/api/v1/samples", {"limit": 50, "where": rng.choice(FILTERS)}
            else:
                kind, path, params = "download", f"/api/v1/blobs/{rng.choice(blobs)}", {}
                if rng.random() < 1 / 3:
                    kind, headers = "range", {"Range": "bytes=-4096"}
            start = time.perf_counter()
            try:
                response = await http.get(path, params=params, headers=headers)
                await response.aread()
                ok = response.status_code in (200, 206)
            except httpx.HTTPError as err:
                ok, response = False, None
                errors.append(f"{kind}: {type(err).__name__}")
            elapsed = (time.perf_counter() - start) * 1000
            if ok:
                out.setdefault(kind, []).append(elapsed)
            elif response is not None:
                errors.append(f"{kind}: HTTP {response.status_code}")


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {"count": int(array.size), "p50_ms": round(float(np.percentile(array, 50)), 2),
            "p95_ms": round(float(np.percentile(array, 95)), 2), "p99_ms": round(float(np.percentile(array, 99)), 2)}


async def drive(url: str, token: str, blobs: list[str], clients: int, duration: float) -> tuple[dict, list[str], float]:
    out: dict[str, list[float]] = {}
    errors: list[str] = []
    start = time.monotonic()
    await asyncio.gather(*(client(url, token, blobs, start + duration, i, out, errors) for i in range(clients)))
    return out, errors, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seedlens-load-") as scratch:
        os.environ["XDG_CACHE_HOME"] = str(Path(scratch) / "cache")
        hub_path, token = build_hub(Path(scratch), args.samples)
        port = free_port()
        server = start_server(hub_path, port)
        try:
            url = f"http://127.0.0.1:{port}"
            first = httpx.get(f"{url}/api/v1/samples", params={"limit": args.samples}, headers={
                "Authorization": f"Bearer {token}"}).json()
            blobs = [s["acquisitions"][0]["blob"] for s in first["items"]]
            out, errors, elapsed = asyncio.run(drive(url, token, blobs, args.clients, args.duration))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    total = sum(len(v) for v in out.values())
    result = {
        "benchmark": "hub_load", "clients": args.clients, "duration_s": round(elapsed, 2), "samples": args.samples,
        "blob_bytes": 64 * 64 * 4 + 128, "requests": total + len(errors), "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10], "requests_per_s": round(total / elapsed, 1),
        "overall": percentiles([x for v in out.values() for x in v]),
        "by_kind": {kind: percentiles(values) for kind, values in sorted(out.items())},
        "server": "seedlens hub serve (uvicorn, 1 process, SQLite catalog, local blob folder), loopback",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hub_load.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"Hub load: {args.clients} clients for {result['duration_s']} s on loopback "
             f"({result['machine']}): **{result['requests_per_s']} requests/s**, {result['errors']} errors.", "",
             "| request | count | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for kind, stats in [*result["by_kind"].items(), ("all", result["overall"])]:
        lines.append(f"| {kind} | {stats['count']} | {stats['p50_ms']} | {stats['p95_ms']} | {stats['p99_ms']} |")
    (RESULTS / "hub_load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
