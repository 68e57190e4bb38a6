"""Duplicate matching quality and cost: the portal's engine and Splink side by side on the same labelled data.

    python bench/matching.py [--size 100000] [--seed 12] [--no-splink] [--parts 1] [--keep DIR]

Generates labelled identities with identities.matching.synthetic (planted desk errors, homonyms, twins),
writes them to a CSV in a temporary folder (or in ``--keep DIR``, where a later run with the same
size and seed reuses them: generating is not part of any matcher's time), then runs each matcher in its own child process
(wall time from the clock, peak RSS from the child's rusage) and scores the pairs it returns
against the truth: pairwise precision, recall and F1 on duplicates, precision of the homonym
queue, twins wrongly proposed. Splink (Fellegi–Sunter on DuckDB, the optional ``bench`` extra)
is configured as a new user would from its documentation.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

COLUMNS = ("id", "birth_name", "used_name", "birth_given_names", "first_birth_given_name", "birth_date", "sex",
           "birthplace_code", "ins_matricule")


def _communes(rng: random.Random) -> list[str]:
    """About 5,600 commune-like COG codes (department + number), Corsica included: no database needed."""
    departments = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
    return sorted({f"{dep}{rng.randint(1, 700):03d}" for dep in departments for _ in range(60)})


def generate(size: int, seed: int, folder: Path) -> tuple[Path, list]:
    from identities.matching import synthetic

    path, truth_path = folder / f"identities-{size}-{seed}.csv", folder / f"truth-{size}-{seed}.json"
    if path.exists() and truth_path.exists():
        return path, [tuple(row) for row in json.loads(truth_path.read_text())]
    rng = random.Random(seed)
    generator = synthetic.IdentityGenerator(
        seed=seed, communes=_communes(rng), countries=["99134", "99350", "99352", "99109", "99127", "99139"],
        documents=[("cni", True), ("passeport", True)], nir_oid="1.2.250.1.213.1.4.8", nia_oid="1.2.250.1.213.1.4.9",
        taken=set(), now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    truth = []
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for i, p in enumerate(generator.generate(size)):
            out.writerow((i, p.birth_name, p.used_name, p.birth_given_names, p.first_birth_given_name, p.birth_date,
                          p.sex, p.birthplace_code, p.ins_matricule or ""))
            truth.append((p.cluster, p.label, p.family, ",".join(p.deviations), p.birth_name, p.first_birth_given_name,
                          p.birth_date))
    truth_path.write_text(json.dumps(truth))
    return path, truth


def _rusage_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- Child processes ---

def run_engine(data: Path, out: Path, parts: int) -> dict:
    from identities.matching.records import Record
    from identities.matching.sweep import candidate_pairs, score
    from identities.matching.table import encode

    started = time.monotonic()
    with data.open(newline="") as handle:
        rows = csv.reader(handle)
        assert tuple(next(rows)) == COLUMNS
        records = (Record(id=int(i), birth_name=birth, used_name=used, birth_given_names=given, first_birth_given_name=first,
                          birth_date=born, sex=sex, birthplace_code=place, ins_matricule=ins or None)
                   for i, birth, used, given, first, born, sex, place, ins in rows)
        table = encode(records, keep_records=False)
    encoded = time.monotonic()
    lefts, rights = [], []
    skipped = 0
    for part in range(parts):
        left, right, skipped_part = candidate_pairs(table, parts=parts, part=part)
        lefts.append(left)
        rights.append(right)
        skipped += skipped_part
    pairs = np.unique(np.concatenate(lefts) * len(table) + np.concatenate(rights))
    left, right = pairs // len(table), pairs % len(table)
    blocked = time.monotonic()
    scored = score(table, left, right, skipped_groups=skipped)
    done = time.monotonic()
    ids = table.ids
    # Only the pairs for a queue: a stack of every candidate (2.5 million rows of int64 at
    # 1,000,000) weighed 100 MB more than the sweep itself and made the run's peak.
    kept = np.flatnonzero(scored.decision.kind > 0)
    np.save(out, np.stack([ids[scored.comparison.left[kept]], ids[scored.comparison.right[kept]],
                           scored.decision.kind[kept], scored.decision.band[kept], np.round(scored.weight[kept] * 10)],
                          axis=1).astype(np.int64))
    examples = []  # the records were not kept; tests/identities/matching show explanations
    return {"seconds": done - started, "encode_seconds": encoded - started, "blocking_seconds": blocked - encoded,
            "scoring_seconds": done - blocked, "peak_rss_mib": _rusage_mib(), "candidates": int(len(left)),
            "skipped_groups": skipped, "prior": scored.model.prior, "examples": examples}


def run_splink(data: Path, out: Path) -> dict:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.monotonic()
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE people AS SELECT id AS unique_id, birth_name, nullif(used_name, '') AS used_name, first_birth_given_name AS first_given,
               birth_given_names AS given_names, nullif(birth_date, '') AS birth_date, sex,
               nullif(birthplace_code, '') AS birthplace
        FROM read_csv('{data}', all_varchar=true, header=true)
    """)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("birth_name", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("first_given", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("given_names", [0.9]),
            cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y-%m-%d"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("birthplace"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_name", "substr(birth_date, 1, 4)"),
            block_on("first_given", "birth_date"),
            block_on("birth_name", "first_given"),
            block_on("birth_date", "substr(birth_name, 1, 1)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("people"), settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("birth_name", "first_given", "birth_date")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_name", "first_given"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    pairs = con.sql(f"SELECT unique_id_l::BIGINT, unique_id_r::BIGINT FROM {predictions.physical_name}").fetchnumpy()
    done = time.monotonic()
    left, right = pairs["CAST(unique_id_l AS BIGINT)"], pairs["CAST(unique_id_r AS BIGINT)"]
    ones = np.ones(len(left), dtype=np.int64)
    np.save(out, np.stack([left, right, ones, ones * 2, ones * 0], axis=1).astype(np.int64))
    return {"seconds": done - started, "peak_rss_mib": _rusage_mib(), "candidates": int(len(left))}


# --- Scoring against the truth ---

def evaluate(result: np.ndarray, truth: list) -> dict:
    clusters = defaultdict(list)
    families = defaultdict(list)
    for i, (cluster, label, family, *_rest) in enumerate(truth):
        if label in ("ORIGINAL", "DUPLICATE"):
            clusters[cluster].append(i)
        if family:
            families[family].append(i)
    duplicates = {pair for members in clusters.values() for pair in itertools.combinations(sorted(members), 2)}
    twins = {pair for members in families.values() for pair in itertools.combinations(sorted(members), 2)}
    lo, hi = np.minimum(result[:, 0], result[:, 1]), np.maximum(result[:, 0], result[:, 1])
    proposed = {(int(a), int(b)) for a, b, k in zip(lo, hi, result[:, 2]) if k == 1}
    homonyms = [(int(a), int(b)) for a, b, k in zip(lo, hi, result[:, 2]) if k == 2]

    def homonym_truth(a: int, b: int) -> bool:
        # Two people with the same birth name, first given name and date: what the queue is for.
        return (a, b) not in duplicates and truth[a][4:7] == truth[b][4:7]

    hits = len(proposed & duplicates)
    precision = hits / len(proposed) if proposed else 0.0
    recall = hits / len(duplicates) if duplicates else 0.0
    missed = Counter(",".join(sorted({*truth[a][3].split(","), *truth[b][3].split(",")} - {""})) or "aucun"
                     for a, b in duplicates - proposed)
    return {
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "true_pairs": len(duplicates), "proposed": len(proposed),
        "homonym_pairs": len(homonyms),
        "homonym_precision": (sum(homonym_truth(a, b) for a, b in homonyms) / len(homonyms)) if homonyms else None,
        "duplicates_filed_as_homonyms": sum((a, b) in duplicates for a, b in homonyms),
        "twins_proposed": len(proposed & twins), "twin_pairs": len(twins),
        "missed_by_error": missed.most_common(8),
    }


def _child(kind: str, data: Path, folder: Path, parts: int) -> dict:
    out = folder / f"{kind}.npy"
    command = [sys.executable, __file__, "--child", kind, "--data", str(data), "--out", str(out), "--parts", str(parts)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        return {"error": completed.stderr[-2000:]}
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["pairs"] = np.load(out)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--parts", type=int, default=1, help="hash ranges of keys the engine's blocking runs in")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--keep", type=Path, help="folder keeping the generated data for later runs")
    parser.add_argument("--child", choices=("engine", "splink"))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        report = run_engine(args.data, args.out, args.parts) if args.child == "engine" else run_splink(args.data, args.out)
        print(json.dumps(report, ensure_ascii=False))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.keep:
            folder = args.keep
            folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        data, truth = generate(args.size, args.seed, folder)
        print(f"{args.size} identities generated in {time.monotonic() - started:.1f} s "
              f"(labels: {dict(Counter(t[1] or '-' for t in truth))}, twins: {sum(1 for t in truth if t[2])})")
        kinds = ["engine"]
        if not args.no_splink:
            try:
                import splink  # noqa: F401
                kinds.append("splink")
            except ImportError:
                print("Splink not installed (pip install 'insportal[bench]'): engine only")
        for kind in kinds:
            load = os.getloadavg()
            report = _child(kind, data, folder, args.parts)
            if "error" in report:
                print(f"{kind}: FAILED\n{report['error']}")
                continue
            quality = evaluate(report.pop("pairs"), truth)
            examples = report.pop("examples", [])
            print(f"\n== {kind} (load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
                  f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
            print(f"precision {quality['precision']:.4f}  recall {quality['recall']:.4f}  F1 {quality['f1']:.4f}  "
                  f"({quality['proposed']} proposed, {quality['true_pairs']} true pairs)")
            if kind == "engine":
                hp = quality["homonym_precision"]
                print(f"homonym queue: {quality['homonym_pairs']} pairs, precision {hp if hp is None else round(hp, 4)}, "
                      f"duplicates filed as homonyms {quality['duplicates_filed_as_homonyms']}; "
                      f"twins proposed as duplicates {quality['twins_proposed']} of {quality['twin_pairs']}")
            print(f"wall {report['seconds']:.1f} s, peak RSS {report['peak_rss_mib']:.0f} MiB, "
                  + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in report.items() if k not in ("seconds", "peak_rss_mib")))
            print("missed, by planted error:", quality["missed_by_error"])
            for lines in examples:
                print("  exemple :", " | ".join(lines))


if __name__ == "__main__":
    main()
