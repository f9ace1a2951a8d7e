"""The benchmarks' row logic (bench/), on made-up samples: the keys issue #16 names, the memory measure
(JS heap + wasm against JsSIP's heap, leaked proxies, growth per call) and the ratios to the fast start.

No browser: the numbers are invented so that the expected rows follow from arithmetic, not from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

# bench/_common.py sets the sandbox's media address policy for the benches' own sandboxes: not for ours.
_ENVIRONMENT = dict(os.environ)
try:
    import bench_calls
    import bench_startup
finally:
    os.environ.clear()
    os.environ.update(_ENVIRONMENT)
    sys.path.remove(str(BENCH))


def _by_metric(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["metric"]: row for row in rows}


def test_slope_of_a_line_and_of_a_flat_series() -> None:
    assert bench_calls.slope([(0, 100.0), (10, 300.0), (20, 500.0)]) == pytest.approx(20.0)
    assert bench_calls.slope([(50, 7.0), (60, 7.0), (70, 7.0)]) == 0.0
    assert bench_calls.slope([(50, 7.0)]) == 0.0


def _series(
    calls: int, *, heap: float, heap_per_call: float, wasm: int, proxies_after: int
) -> list[dict[str, Any]]:
    points = []
    for done in range(0, calls + 1, 10):
        point: dict[str, Any] = {"calls": done, "js_heap": heap + heap_per_call * done}
        if wasm:
            point.update(wasm_bytes=wasm, live_proxies=5 if done < calls else proxies_after,
                         python_objects=40_000)
        points.append(point)
    return points


_IDLE = {"seconds_idle": 40.0, "js_heap": 9e6, "wasm_bytes": 31_457_280, "live_proxies": 5,
         "python_objects": 40_000, "object_types_grown": {}}
_IDLE_JSSIP = {"seconds_idle": 40.0, "js_heap": 2.5e6}


def test_memory_rows_add_wasm_to_our_heap_and_compare_with_jssips_heap() -> None:
    memory = {
        "ours": {"series": _series(100, heap=9e6, heap_per_call=100, wasm=31_457_280, proxies_after=5),
                 "failures": 0, "seconds": 30.0, "idle": _IDLE},
        "jssip": {"series": _series(100, heap=2.5e6, heap_per_call=5_000, wasm=0, proxies_after=0),
                  "failures": 0, "seconds": 40.0, "idle": _IDLE_JSSIP},
    }
    rows = _by_metric(bench_calls.memory_rows(memory, 100))
    total = rows["memory_after_100_calls_bytes"]
    assert total["ours"] == pytest.approx(9e6 + 100 * 100 + 31_457_280)
    assert total["jssip"] == pytest.approx(2.5e6 + 5_000 * 100)
    assert total["target_met"] is False  # 40.5 MB > 30 MB
    assert rows["leaked_proxies_after_100_calls"]["ours"] == 0
    assert rows["leaked_proxies_after_100_calls"]["target_met"] is True
    growth = rows["memory_growth_per_call_bytes"]
    assert growth["ours"] == pytest.approx(100.0)
    assert growth["jssip"] == pytest.approx(5_000.0)
    assert growth["target_met"] is True


def test_a_leaked_proxy_and_a_growing_heap_are_reported() -> None:
    memory = {
        "ours": {"series": _series(100, heap=9e6, heap_per_call=3_000, wasm=31_457_280, proxies_after=6),
                 "failures": 0, "seconds": 30.0, "idle": _IDLE},
        "jssip": {"series": _series(100, heap=2.5e6, heap_per_call=0, wasm=0, proxies_after=0),
                  "failures": 0, "seconds": 40.0, "idle": _IDLE_JSSIP},
    }
    rows = _by_metric(bench_calls.memory_rows(memory, 100))
    assert rows["leaked_proxies_after_100_calls"]["ours"] == 1
    assert rows["leaked_proxies_after_100_calls"]["target_met"] is False
    assert rows["memory_growth_per_call_bytes"]["target_met"] is False


def _visit(ready_ms: float) -> dict[str, Any]:
    return {"ready_ms": ready_ms, "marks": {"ready": ready_ms}, "load_average": 1.0, "bytes": 1000,
            "files": {}}


def test_every_user_path_gets_a_cold_and_a_warm_row_beside_jssip() -> None:
    samples = {
        "ours": {"cold": [_visit(1000), _visit(1200)], "warm": [_visit(600), _visit(600)]},
        "jssip": {"cold": [_visit(200), _visit(200)], "warm": [_visit(150), _visit(150)]},
        "pyscript": {"cold": [_visit(1150), _visit(1150)], "warm": [_visit(900), _visit(900)]},
        "facade_esm": {"cold": [_visit(2200), _visit(2200)], "warm": [_visit(660), _visit(660)]},
    }
    rows = _by_metric(bench_startup.rows_from(samples))
    assert {"time_to_ready_cold_ms", "time_to_ready_warm_ms", "time_to_ready_pyscript_cold_ms",
            "time_to_ready_pyscript_warm_ms", "time_to_ready_facade_esm_cold_ms",
            "time_to_ready_facade_esm_warm_ms"} <= set(rows)
    pyscript_cold = rows["time_to_ready_pyscript_cold_ms"]
    assert pyscript_cold["jssip"] == 200
    assert pyscript_cold["ratio_to_fast_start"] == pytest.approx(1150 / 1100, abs=1e-3)
    assert pyscript_cold["target_met"] is True  # within 1.15x of the fast start
    assert rows["time_to_ready_pyscript_warm_ms"]["target_met"] is False  # 1.5x
    assert rows["time_to_ready_facade_esm_cold_ms"]["target_met"] is False  # 2x
    assert rows["time_to_ready_facade_esm_warm_ms"]["ratio_to_fast_start"] == pytest.approx(1.1)
    assert not any(metric.startswith("variant_") for metric in rows)
