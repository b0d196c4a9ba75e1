"""Reports: --mlonmcu-csv, --mlonmcu-markdown, --mlonmcu-plot, --mlonmcu-columns/-rename."""

from __future__ import annotations

import csv
import json

from gates_helpers import BENCH_TEST, models_arg, rid, write_metrics

from pytest_mlonmcu.exporters import plot_data, render_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = ("m1", "m2", "m3")
CONFIGS = (("fakeb", "fakesim"), ("fakeb", "fakesim2"), ("fakec", "fakesim"), ("fakec", "fakesim2"))
ALL_CONFIGS = ("--mlonmcu-backend=fakeb,fakec", "--mlonmcu-target=fakesim,fakesim2")


def _metrics() -> dict[str, dict[str, int]]:
    """Distinct numbers per run: model i, config j -> invoke (i+1)*1M + j*100k."""
    out = {}
    for i, model in enumerate(MODELS):
        for j, (backend, target) in enumerate(CONFIGS):
            out[rid(model, backend, target)] = {
                "invoke_instructions": (i + 1) * 1_000_000 + j * 100_000,
                "rom_bytes": 50_000 + i * 10_000 + j * 1_000,
                "ram_bytes": 8_000 + i * 1_000 + j * 100,
                "stack_bytes": 512,
            }
    return out


def test_csv_and_markdown_with_columns_and_renames(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    write_metrics(fake_project, _metrics())
    models = models_arg("m1", "m2")
    full = run_session(
        models, "--mlonmcu-backend=fakeb", "--mlonmcu-target=fakesim",
        "--mlonmcu-models-dir=models", "--mlonmcu-csv=out/r.csv", "--mlonmcu-markdown=r.md",
    )  # fmt: skip
    assert full.ret == 0, full.output
    rows = list(csv.reader((fake_project.path / "out" / "r.csv").open()))
    header = rows[0]
    # Every metric, raw numbers: the table's known columns first, then the rest by key.
    assert header[:4] == ["Model", "Backend", "Target", "Features"]
    assert header[4:8] == ["Invoke Instructions", "ROM", "RAM", "Stack"]
    assert header[-2:] == ["Validation", "Outcome"]
    assert {"MACs", "Params", "model_ops"} <= set(header)
    m1 = dict(zip(header, rows[1]))
    assert (m1["Model"], m1["Invoke Instructions"], m1["ROM"], m1["Outcome"]) == (
        "m1", "1000000", "50000", "passed",
    )  # fmt: skip
    assert len(rows) == 3
    md = (fake_project.path / "r.md").read_text().splitlines()
    assert md[0] == "### pytest-mlonmcu results"
    # Columns that no run filled (features, setup instructions, validation...) are left out.
    assert md[2:6] == [
        "| Model | Backend | Target | Invoke Instructions | ROM | RAM | Stack | Outcome |",
        "|---|---|---|---:|---:|---:|---:|---|",
        "| m1 | fakeb | fakesim | 1,000,000 | 50,000 | 8,000 | 512 | passed |",
        "| m2 | fakeb | fakesim | 2,000,000 | 60,000 | 9,000 | 512 | passed |",
    ]

    # Column filter and renames (key or title) shape csv, markdown and the terminal table.
    shaped = run_session(
        models, "--mlonmcu-backend=fakeb", "--mlonmcu-target=fakesim",
        "--mlonmcu-models-dir=models", "--mlonmcu-csv=r.csv", "--mlonmcu-markdown=r.md",
        "--mlonmcu-columns=model,Invoke Instructions,rom_bytes,macs,outcome",
        "--mlonmcu-rename=invoke_instructions=Cycles,ROM=Flash [B]",
        "--mlonmcu-rename=outcome=Result",
    )  # fmt: skip
    assert shaped.ret == 0, shaped.output
    rows = list(csv.reader((fake_project.path / "r.csv").open()))
    assert rows == [
        ["Model", "Cycles", "Flash [B]", "MACs", "Result"],
        ["m1", "1000000", "50000", "264192", "passed"],
        ["m2", "2000000", "60000", "264192", "passed"],
    ]
    md = (fake_project.path / "r.md").read_text().splitlines()
    assert md[2:6] == [
        "| Model | Cycles | Flash [B] | MACs | Result |",
        "|---|---:|---:|---:|---|",
        "| m1 | 1,000,000 | 50,000 | 264,192 | passed |",
        "| m2 | 2,000,000 | 60,000 | 264,192 | passed |",
    ]
    table = shaped.section("mlonmcu results").splitlines()
    assert table[0].split() == ["Model", "Cycles", "Flash", "[B]", "MACs", "Result"]
    assert table[2].split() == ["m1", "1,000,000", "50,000", "264,192", "passed"]


def test_plots_one_group_per_model_one_bar_per_configuration(fake_project, run_session):
    import matplotlib.image

    fake_project.makepyfile(test_m=BENCH_TEST)
    write_metrics(fake_project, _metrics())
    session = run_session(
        models_arg(*MODELS), *ALL_CONFIGS, "--mlonmcu-models-dir=models",
        "--mlonmcu-plot=plots", "-n", "2",
    )  # fmt: skip
    session.result.assert_outcomes(passed=12)
    assert "plots in " in session.output
    for metric in ("invoke_instructions", "rom_bytes", "ram_bytes"):
        png = fake_project.path / "plots" / f"{metric}.png"
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, metric
        image = matplotlib.image.imread(png)
        height, width = image.shape[:2]
        assert height == 480 and width >= 640, (metric, image.shape)
    assert not (fake_project.path / "plots" / "stack_bytes.png").exists()  # not a plot metric

    # What the charts show, from the session's records (the same function drew the PNGs).
    data = plot_data(session.runs, "invoke_instructions")
    assert data is not None
    assert data.models == list(MODELS)
    assert data.series == [f"{b}-{t}" for b, t in CONFIGS]
    assert data.values["fakec-fakesim"] == [1_200_000, 2_200_000, 3_200_000]
    ax = render_plot(data).axes[0]
    groups = [t.get_text() for t in ax.get_xticklabels()]
    assert groups == list(MODELS)
    assert len(ax.containers) == len(CONFIGS)  # one bar series per backend-target
    assert all(len(bars) == len(MODELS) for bars in ax.containers)  # one bar per model
    heights = [bar.get_height() for bar in ax.containers[2]]
    assert heights == [1_200_000, 2_200_000, 3_200_000]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == data.series


def test_plots_leave_out_runs_that_failed(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    metrics = _metrics()
    write_metrics(fake_project, metrics)
    session = run_session(
        models_arg("m1", "m2"), "--mlonmcu-backend=fakeb", "--mlonmcu-target=fakesim",
        "--mlonmcu-models-dir=models", "--mlonmcu-plot=plots", "--mlonmcu-budget=ram_bytes<=8500",
    )  # fmt: skip
    session.result.assert_outcomes(passed=1, failed=1)  # m2 fails its budget: still measured
    data = plot_data(session.runs, "ram_bytes")
    assert data is not None and data.models == ["m1", "m2"]
    # A run that failed for another reason (no usable metrics) is left out.
    broken = [dict(r, outcome="failed", gate_failures=[]) for r in session.runs]
    assert plot_data(broken, "ram_bytes") is None
    assert json.loads(json.dumps(data.values)) == {"fakeb-fakesim": [8_000, 9_000]}
