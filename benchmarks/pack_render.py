"""Benchmark: review-pack rendering on a synthetic estate of N identities.

Collects and checks first (not timed here; see collect_check.py), then times each renderer on its
own (JSON, CSV, PDF + PAdES signature, HTML, XLSX), and finally the whole pack as `agentaudit run`
writes it (XLSX in a forked worker, in parallel with the rest; owner attestation workbooks;
manifest and CMS signature).

    python benchmarks/pack_render.py --identities 10000 [--keep DIR]
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from synthetic import AS_OF, peak_rss_mb, prepare

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.model.store import Store
from agentaudit.output import packdata
from agentaudit.output.attestation import review_rows, row_owners
from agentaudit.output.interchange import write_oscal
from agentaudit.output.ocsf import COMPLIANCE, DETECTION, write_ocsf
from agentaudit.output.ownerbooks import write_workbooks
from agentaudit.output.pdf import write_html, write_pdf
from agentaudit.output.pdfsign import sign_pdf
from agentaudit.output.results import write_findings_csv, write_findings_jsonl, write_findings_parquet
from agentaudit.output.signing import ensure_demo_identity
from agentaudit.output.xlsx import write_xlsx


def main() -> int:
    work, estate, _generated = prepare(__doc__ or "", "agentaudit-pack-bench-")
    store = Store(f"sqlite:///{work / 'pack-bench.db'}")
    config = load_config()
    collected = pipeline.collect(estate, store, config)
    result = pipeline.check(store, config, AS_OF, collected.snapshot_id)
    findings = result.evaluation.findings
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    identity = ensure_demo_identity(work / "key")
    figures: dict[str, object] = {"identities": collected.counts["identities"], "findings": len(findings)}
    figures["rss_before_render_mb"] = round(peak_rss_mb())

    def timed(name: str, func: object, *call_args: object) -> object:
        started = time.perf_counter()
        value = func(*call_args)  # type: ignore[operator]
        figures[f"{name}_s"] = round(time.perf_counter() - started, 2)
        return value

    meta = {
        "organisation": "Benchmark", "period": "2026-Q4", "as_of": str(AS_OF), "run_id": result.run_id,
        "snapshot_id": result.snapshot_id, "snapshot_created": "", "snapshot_status": "complete",
        "generated": "", "version": "bench", "signer": "demo", "demo": True,
        "trend": result.evaluation.trend, "frameworks": None, "xlsx_include_passes": False,
    }  # fmt: skip
    data = timed("pack_data", packdata.build, findings, result.context, result.evaluation.controls,
                 result.evaluation.catalog, config, meta)  # fmt: skip
    timed("findings_parquet", write_findings_parquet, findings, scratch / "findings.parquet")
    timed("findings_jsonl", write_findings_jsonl, findings, scratch / "findings.jsonl.gz")
    timed("findings_csv", write_findings_csv, findings, scratch / "findings.csv")
    catalog = result.evaluation.catalog
    ocsf_targets = {COMPLIANCE: scratch / "findings.ocsf.json", DETECTION: scratch / "detections.ocsf.json"}
    timed("ocsf_2003_and_2004", write_ocsf, findings, catalog, result.run_id, AS_OF, ocsf_targets)
    timed("oscal", write_oscal, findings, catalog, result.run_id, AS_OF, "2026-Q4", scratch / "oscal.json")
    timed("pdf_render", write_pdf, data, scratch / "unsigned.pdf")
    timed("html", write_html, data, scratch / "review-pack.html")
    timed("pdf_sign", sign_pdf, scratch / "unsigned.pdf", scratch / "review-pack.pdf", identity, "bench")
    timed("xlsx", write_xlsx, data, findings, scratch / "review-pack.xlsx")
    timed("attestation_owner_counts", row_owners, result.context)
    rows = timed("attestation_rows", review_rows, result.context, findings)
    campaign = store.create_campaign("2026-Q4", result.run_id, result.snapshot_id)
    issued = timed("attestation_workbooks", write_workbooks, rows, campaign, meta, scratch)
    figures["attestation"] = {"rows": len(rows), "workbooks": len(issued.workbooks)}
    figures["rss_after_serial_renderers_mb"] = round(peak_rss_mb())
    folder = timed("whole_pack", pipeline.write_pack, result, store, config, work / "out")
    figures["peak_rss_mb"] = round(peak_rss_mb())
    figures["peak_rss_children_mb"] = round(peak_rss_mb(resource.RUSAGE_CHILDREN))
    figures["pdf_pages"] = _pages(scratch / "review-pack.pdf")
    figures["sizes_mb"] = {
        str(p.relative_to(folder)): round(p.stat().st_size / 2**20, 1)
        for p in sorted(Path(str(folder)).iterdir())
        if p.is_file()
    }
    figures["sizes_mb"]["attestation/ (all)"] = round(
        sum(p.stat().st_size for p in (Path(str(folder)) / "attestation").iterdir()) / 2**20, 1
    )
    figures["pack_folder"] = str(folder)
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


def _pages(path: Path) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with path.open("rb") as handle:
        return int(PdfFileReader(handle).root["/Pages"]["/Count"])


if __name__ == "__main__":
    raise SystemExit(main())
