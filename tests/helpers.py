"""Helpers shared by the end-to-end and command-line tests."""
from __future__ import annotations

import json
from pathlib import Path


def hipages_line(event_id, user_id="u1", action="page_view", url="https://www.hipages.com.au/articles",
                 timestamp="02/02/2017 20:22:00", session_id="s1", ip="1.2.3.4") -> str:
    return json.dumps({"event_id": event_id, "user": {"session_id": session_id, "id": user_id, "ip": ip},
                       "action": action, "url": url, "timestamp": timestamp})


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read_report(warehouse: Path, run_id: str) -> dict:
    return json.loads((warehouse / "_runs" / f"{run_id}.json").read_text())


def table_rows(spark, warehouse: Path, name: str, *columns: str) -> list[tuple]:
    df = spark.read.format("delta").load(str(warehouse / name))
    return sorted(tuple(r) for r in df.select(*columns).collect())
