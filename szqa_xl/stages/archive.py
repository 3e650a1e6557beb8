"""The year's verifiable archive: one zip of everything an award year produced, and its check.

``build_archive(year_dir, out)`` copies every file of the year folder byte for byte into a zip
(ZIP_DEFLATED, written atomically, never over an existing file unless ``force``), adds the roster
(``roster/<name>``), the editions of the standards used (``standards/<id>.yaml``), a
``returns_log.csv`` (each returned file's status and the reasons it was rejected, read from the
consolidated workbook's 回收情况 sheet), and ``MANIFEST.csv`` — ``path, size, sha256, role, stage``
for every other member — with ``MANIFEST.sha256``, the digest of MANIFEST.csv's bytes.

``verify_archive(archive)`` opens a zip without extracting anything (member names, sizes and
compression ratios checked first), recomputes every member's SHA-256 and compares with the
manifest: members changed, missing or added, and a manifest whose digest does not match.  A bad
archive is reported as problems, never raised.  The zip comment is never read: nothing in it is
trusted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from szqa_xl.problems import Problem
from szqa_xl.xlsx.atomic import atomic_path

ROLES: tuple[str, ...] = (
    "roster",
    "manifest",
    "issued",
    "returned",
    "rejected-return",
    "consolidation",
    "panel-workbook",
    "consensus-index",
    "results",
    "feedback",
    "standard",
    "log",
    "other",
)
STAGES: tuple[str, ...] = ("材料评审", "集中答辩", "现场核查")
MANIFEST_NAME = "MANIFEST.csv"
DIGEST_NAME = "MANIFEST.sha256"
RETURNS_LOG = "returns_log.csv"
MANIFEST_FIELDS: tuple[str, ...] = ("path", "size", "sha256", "role", "stage")
RETURNS_LOG_FIELDS: tuple[str, ...] = (
    "file",
    "status",
    "reasons",
    "status_code",
    "issue_id",
    "stage",
    "member",
    "source",
)
RESERVED = (MANIFEST_NAME, DIGEST_NAME, RETURNS_LOG)
"""Top-level files every archive adds; a year folder holding one of them is refused (as is one whose
``roster/``, ``standards/`` or ``extra/`` holds a file of the same name as one the archive adds)."""

MAX_TOTAL_SIZE = 4 * 1024**3
"""verify: the most uncompressed bytes an archive may declare (a zip bomb is refused unread)."""
MAX_RATIO = 250.0
"""verify: the highest compression ratio of a member larger than ``RATIO_FLOOR``."""
RATIO_FLOOR = 1024**2
MAX_MANIFEST_SIZE = 256 * 1024**2
CHUNK = 1024**2
SNIFF_BYTES = 64 * 1024
MAX_SIDECAR_SIZE = 64 * 1024**2
"""The largest CSV / JSON read to infer a stage or the categories (bigger ones are archived unread)."""

RESULT_NAMES = {"results.xlsx", "results.csv", "consensus_units.csv", "final.xlsx", "final.csv"}
"""finalize's results and each unit's consensus; the final ranking across the stages."""
SPREADSHEETS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et", ".csv"}
ISSUED_DIRS = {"1_scoresheets", "scoresheets", "评分表"}
RETURNS_DIRS = {"2_returns", "returns", "回收", "返回", "回收评分表"}
FEEDBACK_DIRS = {"feedback", "反馈报告"}
REJECTED_ZH = "拒收"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DOS_EPOCH = (1980, 1, 1, 0, 0, 0)


class ArchiveError(ValueError):
    """A year folder that cannot be archived as asked (the message says why)."""


@dataclass(frozen=True)
class Member:
    """One line of MANIFEST.csv: a member of the archive."""

    path: str
    size: int
    sha256: str
    role: str
    stage: str


def _by_role(members: Iterable[Member]) -> dict[str, int]:
    counts = Counter(m.role for m in members)
    return {r: counts[r] for r in ROLES if counts[r]} | {r: n for r, n in counts.items() if r not in ROLES}


@dataclass
class ArchiveReport:
    """What build_archive wrote: every member (as in MANIFEST.csv), what it skipped, warnings."""

    archive: Path
    members: list[Member] = field(default_factory=list)
    manifest_sha256: str = ""
    skipped: list[str] = field(default_factory=list)  # lock and hidden files, links: not archived
    problems: list[Problem] = field(default_factory=list)  # warnings: the archive was written

    @property
    def by_role(self) -> dict[str, int]:
        """Members per role, in ROLES order (roles with none left out)."""
        return _by_role(self.members)

    @property
    def total_size(self) -> int:
        return sum(m.size for m in self.members)

    def summary(self) -> str:
        roles = "，".join(f"{r} {n}" for r, n in self.by_role.items())
        return (
            f"{self.archive}: {len(self.members)} 个文件（{roles}），共 {self.total_size} 字节；"
            f"跳过 {len(self.skipped)}；MANIFEST.csv SHA-256 {self.manifest_sha256}"
        )


@dataclass
class VerifyReport:
    """What verify_archive found; ``ok`` when nothing changed, went missing or was added."""

    archive: Path
    changed: list[str] = field(default_factory=list)  # hash or size differs from MANIFEST.csv
    missing: list[str] = field(default_factory=list)  # in MANIFEST.csv, not in the zip
    added: list[str] = field(default_factory=list)  # in the zip, not in MANIFEST.csv
    problems: list[Problem] = field(default_factory=list)  # every finding, as data
    members: list[Member] = field(default_factory=list)  # MANIFEST.csv as read
    manifest_sha256: str = ""  # of MANIFEST.csv as found in the zip
    checked: int = 0  # members hashed

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def by_role(self) -> dict[str, int]:
        """Members per role according to MANIFEST.csv."""
        return _by_role(self.members)

    def summary(self) -> str:
        verdict = "完好" if self.ok else "有问题"
        return (
            f"{self.archive}: {verdict}；已核对 {self.checked} 个文件，改动 {len(self.changed)}，"
            f"缺失 {len(self.missing)}，多出 {len(self.added)}，问题 {len(self.problems)}"
        )


# --- the year folder -----------------------------------------------------------------------------


def _skip_name(name: str) -> bool:
    return name.startswith(("~$", ".~lock", "."))


def _is_archive(path: Path) -> bool:
    """A zip this module wrote (MANIFEST.csv and MANIFEST.sha256 at its root)."""
    if path.suffix.lower() != ".zip":
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return {"MANIFEST.csv", "MANIFEST.sha256"} <= names


def _walk(year_dir: Path, exclude: set[Path]) -> tuple[list[tuple[str, Path]], list[str]]:
    """Regular files under the folder as (posix relative path, path), sorted; and what was skipped."""
    files: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(year_dir, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(year_dir)
        keep = []
        for d in sorted(dirnames):
            if _skip_name(d) or (here / d).is_symlink():
                skipped.append((rel_dir / d).as_posix() + "/")
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = here / name
            rel = (rel_dir / name).as_posix()
            if p.resolve() in exclude or p.absolute() in exclude:
                continue
            if _skip_name(name):
                skipped.append(rel)
                continue
            try:
                st = p.lstat()
            except OSError:
                skipped.append(rel)
                continue
            if not stat.S_ISREG(st.st_mode):  # links, sockets, fifos
                skipped.append(rel)
                continue
            if _is_archive(p):  # an earlier archive of this year: not packed into the next one
                skipped.append(rel)
                continue
            files.append((rel, p))
    files.sort(key=lambda f: f[0])
    return files, sorted(skipped)


def _csv_header(path: Path) -> list[str]:
    """The first row of a CSV file (UTF-8), or [] when it is not one."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
        line = head.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        return [c.strip() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return []


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a (bounded) UTF-8 CSV file, or [] when it cannot be read."""
    try:
        if path.stat().st_size > MAX_SIDECAR_SIZE:
            return []
        text = path.read_text(encoding="utf-8-sig")
        return [
            {(k or "").strip(): (v or "") for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))
        ]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _csv_stage(path: Path) -> str:
    """The one stage a CSV file's ``stage`` column holds ("" if none, several, or not a CSV)."""
    if path.suffix.lower() != ".csv" or "stage" not in _csv_header(path):
        return ""
    stage = _single(r.get("stage", "") for r in _csv_rows(path))
    return stage if stage in STAGES else ""


def _stage_in(text: str) -> str:
    """The stage a path names; the one nearest its end when it names several (a folder per stage)."""
    at = {s: text.rfind(s) for s in STAGES if s in text}
    return max(at, key=at.__getitem__) if at else ""


def _single(values: Iterable[str]) -> str:
    found = {v.strip() for v in values if v and v.strip()}
    return found.pop() if len(found) == 1 else ""


def _parts(rel: str) -> list[str]:
    return [p.lower() for p in PurePosixPath(rel).parts[:-1]]


def _in_dirs(rel: str, names: set[str], suffix: str) -> bool:
    return any(p in names or p.endswith(suffix) for p in _parts(rel))


def _role_by_name(rel: str, header: list[str]) -> str:
    """The role of a file that no manifest lists and no returns log names."""
    pp = PurePosixPath(rel)
    name, suffix = pp.name, pp.suffix.lower()
    if name.startswith("共识表_") and suffix in SPREADSHEETS:
        return "panel-workbook"
    if name == "共识索引.jsonl":
        return "consensus-index"
    if name in ("consolidated.xlsx", "scores.csv"):
        return "consolidation"
    if name in RESULT_NAMES:
        return "results"
    if name.startswith("反馈报告_") or (
        _in_dirs(rel, FEEDBACK_DIRS, "_feedback") and suffix in (".docx", ".pdf", ".doc")
    ):
        return "feedback"
    if suffix in SPREADSHEETS and _in_dirs(rel, ISSUED_DIRS, "_scoresheets"):
        return "issued"
    if suffix in SPREADSHEETS and _in_dirs(rel, RETURNS_DIRS, "_returns"):
        return "returned"
    if suffix in (".yaml", ".yml") and "standards" in _parts(rel):
        return "standard"
    if name == RETURNS_LOG or suffix == ".log":
        return "log"
    if {"applicant_id", "examiner_id", "award_category"} <= set(header) or "roster" in name.lower():
        return "roster"
    return "other"


@dataclass
class _LogRow:
    file: str
    status: str
    reasons: str
    status_code: str
    issue_id: str
    stage: str
    source: str
    member: str = ""


def _read_returns_sheet(path: Path, source: str) -> list[_LogRow]:
    """The rows of a consolidated workbook's 回收情况 sheet (header row found by its 状态 and 文件)."""
    import openpyxl

    from szqa_xl.consolidation.batch import STATUS_ZH
    from szqa_xl.safety import check_environment

    check_environment()  # the workbook is a user's file: openpyxl must parse it through defusedxml

    code_of = {zh: en for en, zh in STATUS_ZH.items()}
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if "回收情况" not in wb.sheetnames:
            raise KeyError("回收情况")
        rows = wb["回收情况"].iter_rows(values_only=True)
        col: dict[str, int] = {}
        for row in rows:
            cells = ["" if v is None else str(v).strip() for v in row]
            if "状态" in cells and "文件" in cells:
                col = {name: cells.index(name) for name in cells if name}
                break
        if not col:
            raise KeyError("状态/文件")
        reasons_col = next((i for n, i in col.items() if n.startswith("原因")), None)

        def get(cells: list[str], i: int | None) -> str:
            return cells[i] if i is not None and i < len(cells) else ""

        out = []
        for row in rows:
            cells = ["" if v is None else str(v).strip() for v in row]
            status = get(cells, col["状态"])
            if not status:
                continue
            out.append(
                _LogRow(
                    file=get(cells, col["文件"]),
                    status=status,
                    reasons=get(cells, reasons_col),
                    status_code=code_of.get(status, ""),
                    issue_id=get(cells, col.get("发放编号")),
                    stage=get(cells, col.get("评审阶段")),
                    source=source,
                )
            )
        return out
    finally:
        wb.close()


@dataclass
class _Plan:
    """Roles, stages and the standards of a year folder, worked out before anything is written."""

    roles: dict[str, str] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    log: list[_LogRow] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    fingerprints: dict[str, set[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _plan(files: list[tuple[str, Path]]) -> _Plan:
    from szqa_xl.standards.models import AWARD_IDS

    plan = _Plan()
    by_rel = dict(files)
    headers = {rel: _csv_header(p) for rel, p in files if rel.lower().endswith(".csv")}
    issued_stage: dict[str, str] = {}
    stages_by_name: dict[str, set[str]] = {}
    # manifests: a CSV with issue ids, fingerprints and paths; the files they list are the issued ones
    for rel, header in headers.items():
        if not {"issue_id", "fingerprint", "path"} <= set(header):
            continue
        plan.roles[rel] = "manifest"
        base = PurePosixPath(rel).parent
        rows = _csv_rows(by_rel[rel])
        plan.stages[rel] = _single(r.get("stage", "") for r in rows)
        for r in rows:
            listed = os.path.normpath((base / r.get("path", "").replace("\\", "/")).as_posix())
            listed = PurePosixPath(listed).as_posix()
            if listed in by_rel:
                plan.roles[listed] = "issued"
                issued_stage[listed] = r.get("stage", "")
            stages_by_name.setdefault(PurePosixPath(listed).name, set()).add(r.get("stage", ""))
            cat = r.get("award_category", "")
            if cat in AWARD_IDS:
                plan.categories.add(cat)
                if _HEX64.fullmatch(r.get("fingerprint", "")):
                    plan.fingerprints.setdefault(cat, set()).add(r["fingerprint"])
    for rel, _p in files:
        if rel not in plan.roles and _role_by_name(rel, headers.get(rel, [])) == "issued":
            plan.roles[rel] = "issued"
    # the returns logs of the consolidated workbooks: returned files, and which were rejected
    for rel, p in files:
        if PurePosixPath(rel).name != "consolidated.xlsx":
            continue
        try:
            plan.log.extend(_read_returns_sheet(p, rel))
        except Exception as exc:  # any unreadable workbook is a warning: the archive is still written
            plan.problems.append(
                Problem(
                    "returns-log-unreadable",
                    f"无法读取回收情况表（{type(exc).__name__}: {exc}），退回文件的拒收原因未能记入 {RETURNS_LOG}",
                    rel,
                    severity="warning",
                )
            )
    candidates = [rel for rel, _p in files if plan.roles.get(rel) not in ("manifest", "issued")]
    for row in plan.log:
        if not row.file or row.status_code in ("missing", "skipped"):
            continue
        want = row.file.replace("\\", "/")
        found = [rel for rel in candidates if rel == want or rel.endswith("/" + want)]
        if len(found) > 1:  # the same name in two stages' folders: the one beside this consolidation
            base = PurePosixPath(row.source).parent.parent.parts

            def rank(rel: str, base: tuple[str, ...] = base) -> tuple[bool, bool, int]:
                parts = PurePosixPath(rel).parts
                return (parts[: len(base)] == base, _in_dirs(rel, RETURNS_DIRS, "_returns"), -len(parts))

            best = max(rank(rel) for rel in found)
            found = [rel for rel in found if rank(rel) == best]
        if not found:
            plan.problems.append(
                Problem(
                    "return-not-in-folder",
                    f"回收情况表列出的退回文件（{row.status}）不在年度文件夹中，归档不含此文件",
                    row.file,
                    severity="warning",
                )
            )
            continue
        row.member = found[0]
        for rel in found:
            rejected = row.status == REJECTED_ZH or plan.roles.get(rel) == "rejected-return"
            plan.roles[rel] = "rejected-return" if rejected else "returned"
            if row.stage in STAGES:
                plan.stages.setdefault(rel, row.stage)
    for rel, _p in files:
        plan.roles.setdefault(rel, _role_by_name(rel, headers.get(rel, [])))
    # stages: the path, else the manifest's row, the returns log, a CSV's single stage, a sibling CSV's
    single_csv: dict[str, str] = {}
    for rel, header in headers.items():
        if "stage" in header or "award_category" in header:
            rows = _csv_rows(by_rel[rel]) if plan.roles[rel] != "manifest" else []
            single_csv[rel] = _single(r.get("stage", "") for r in rows)
            if plan.roles[rel] in ("consolidation", "results"):
                plan.categories |= {r.get("award_category", "") for r in rows} & set(AWARD_IDS)
    for rel, p in files:
        stage = _stage_in(rel) or issued_stage.get(rel, "") or plan.stages.get(rel, "")
        if not stage and plan.roles[rel] in ("returned", "rejected-return"):
            stage = _single(stages_by_name.get(PurePosixPath(rel).name, set()))
        if not stage:
            stage = single_csv.get(rel, "")
        if not stage and plan.roles[rel] in ("consolidation", "results"):
            sibling = {"consolidated.xlsx": "scores.csv", "results.xlsx": "results.csv"}.get(
                PurePosixPath(rel).name
            )
            if sibling:
                stage = single_csv.get((PurePosixPath(rel).parent / sibling).as_posix(), "")
        if not stage and plan.roles[rel] == "consensus-index":
            stage = _index_stage(p)
        plan.stages[rel] = stage if stage in STAGES else ""
    # award categories named in the folder and file names (经济类, economic_经济类 …)
    plan.categories |= _categories_in_names(rel for rel, _p in files)
    return plan


def _index_stage(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_SIDECAR_SIZE:
            return ""
        stages = []
        with path.open(encoding="utf-8") as fh:  # JSON Lines: a head, then a workbook's entry a line
            fh.readline()
            for line in fh:
                p = json.loads(line)
                if isinstance(p, dict) and len(p.get("key", ())) > 2:
                    stages.append(str(p["key"][2]))
        return _single(stages)
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return ""


def _categories_in_names(rels: Iterable[str]) -> set[str]:
    from szqa_xl.standards.load import builtin_standards

    names = {std.name_zh: std.id for std in builtin_standards()}
    found = set()
    for rel in rels:
        for zh, award in names.items():
            if zh in rel:
                found.add(award)
    return found


@dataclass
class _Source:
    """A member to write: from a file, or generated bytes."""

    name: str
    role: str
    stage: str = ""
    path: Path | None = None
    data: bytes | None = None


def _standard_sources(plan: _Plan, extra: list[Path]) -> tuple[list[_Source], set[Path], list[Problem]]:
    """The YAML of each award category used: the edition whose fingerprint the manifest names (the
    shipped one, or one given in ``extra``); the extras so used are not archived again under extra/."""
    from szqa_xl.standards.load import StandardError, builtin_standard_path, fingerprint, load_standard
    from szqa_xl.standards.models import AWARD_IDS

    given: dict[tuple[str, str], Path] = {}
    for p in extra:
        if p.is_file() and p.suffix.lower() in (".yaml", ".yml"):
            try:
                std = load_standard(p)
            except StandardError:
                continue
            given.setdefault((std.id, fingerprint(std)), p)
    sources: list[_Source] = []
    used_extra: set[Path] = set()
    problems: list[Problem] = []
    for award in AWARD_IDS:
        if award not in plan.categories:
            continue
        shipped = builtin_standard_path(award)
        shipped_fp = fingerprint(load_standard(shipped))
        wanted = sorted(plan.fingerprints.get(award, set())) or [shipped_fp]
        chosen: list[tuple[str, Path]] = []
        for fp in wanted:
            src = shipped if fp == shipped_fp else given.get((award, fp))
            if src is None:
                problems.append(
                    Problem(
                        "edition-not-found",
                        f"发放清单中{award}的评定标准版本（指纹 {fp[:12]}）与随程序提供的版本不同，"
                        "也未在附加文件中提供；归档中的 standards/ 只含随程序提供的版本",
                        f"standards/{award}.yaml",
                        severity="warning",
                    )
                )
                src, fp = shipped, shipped_fp
            if (fp, src) not in [(f, s) for f, s in chosen]:
                chosen.append((fp, src))
        for fp, src in chosen:
            name = f"standards/{award}.yaml" if len(chosen) == 1 else f"standards/{award}_{fp[:12]}.yaml"
            sources.append(_Source(name, "standard", path=src))
            if src != shipped:
                used_extra.add(src)
    return sources, used_extra, problems


def _extra_sources(extra: list[Path], used: set[Path], skipped: list[str]) -> list[_Source]:
    out: list[_Source] = []
    for p in extra:
        if p in used:
            continue
        if p.is_dir():
            files, left = _walk(p, set())
            out += [_Source(f"extra/{p.name}/{rel}", "", path=f) for rel, f in files]
            skipped += [f"extra/{p.name}/{rel}" for rel in left]
        elif p.is_file():
            out.append(_Source(f"extra/{p.name}", "", path=p))
        else:
            raise FileNotFoundError(str(p))
    for s in out:
        s.role = _role_by_name(s.name.removeprefix("extra/"), _csv_header(s.path) if s.path else [])
        s.stage = _stage_in(s.name) or (_csv_stage(s.path) if s.path else "")
    return out


def _log_csv(rows: list[_LogRow]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(RETURNS_LOG_FIELDS)
    for r in rows:
        w.writerow([r.file, r.status, r.reasons, r.status_code, r.issue_id, r.stage, r.member, r.source])
    return buf.getvalue().encode("utf-8-sig")


def _manifest_csv(members: list[Member]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(MANIFEST_FIELDS)
    for m in members:
        w.writerow([m.path, m.size, m.sha256, m.role, m.stage])
    return buf.getvalue().encode("utf-8-sig")


def _zipinfo(name: str, mtime: float | None) -> zipfile.ZipInfo:
    stamp = time.localtime(time.time() if mtime is None else mtime)[:6]
    info = zipfile.ZipInfo(name, date_time=max(stamp, _DOS_EPOCH))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _write_member(zf: zipfile.ZipFile, src: _Source) -> Member:
    h, size = hashlib.sha256(), 0
    if src.path is not None:
        st = src.path.stat()
        with (
            src.path.open("rb") as fh,
            zf.open(_zipinfo(src.name, st.st_mtime), "w", force_zip64=st.st_size >= 2**31) as dst,
        ):
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    else:
        data = src.data or b""
        zf.writestr(_zipinfo(src.name, None), data)
        h.update(data)
        size = len(data)
    return Member(src.name, size, h.hexdigest(), src.role, src.stage)


def build_archive(
    year_dir: Path | str,
    out: Path | str,
    *,
    roster: Path | str | None = None,
    extra: Iterable[Path | str] = (),
    force: bool = False,
) -> ArchiveReport:
    """Archive a year folder into the zip ``out``; raise FileExistsError if it exists (unless
    ``force``), ArchiveError when the folder holds a name the archive reserves."""
    year_dir, out = Path(year_dir), Path(out)
    extras = [Path(p) for p in extra]
    if not year_dir.is_dir():
        raise NotADirectoryError(f"年度文件夹不存在或不是文件夹：{year_dir}")
    if out.is_dir():
        raise IsADirectoryError(f"输出是一个文件夹：{out}")
    if out.exists() and not force:
        raise FileExistsError(f"{out} 已存在（使用 force 覆盖）")
    roster_path = Path(roster) if roster is not None else None
    if roster_path is not None and not roster_path.is_file():
        raise FileNotFoundError(f"名单文件不存在：{roster_path}")

    files, skipped = _walk(year_dir, {out.resolve(), out.absolute()})
    taken = {rel for rel, _p in files} & set(RESERVED)
    if taken:
        raise ArchiveError(
            f"年度文件夹的顶层已有归档保留的名称：{'、'.join(sorted(taken))}（是否解压过旧的归档？请归档原始的年度文件夹）"
        )
    plan = _plan(files)
    sources = [_Source(rel, plan.roles[rel], plan.stages[rel], path=p) for rel, p in files]
    if roster_path is not None:
        stage = _stage_in(roster_path.name) or _csv_stage(roster_path)
        sources.append(_Source(f"roster/{roster_path.name}", "roster", stage, roster_path))
    std_sources, used_extra, std_problems = _standard_sources(plan, extras)
    sources += std_sources
    sources += _extra_sources(extras, used_extra, skipped)
    sources.append(_Source(RETURNS_LOG, "log", _single(r.stage for r in plan.log), data=_log_csv(plan.log)))
    names = Counter(s.name for s in sources)
    if dup := sorted(n for n, c in names.items() if c > 1):
        raise ArchiveError(
            f"归档中会有同名文件：{'、'.join(dup)}（年度文件夹中已有此名称，或附加文件重名）；未写入归档"
        )
    if any(s.role in ("returned", "rejected-return") for s in sources) and not plan.log:
        plan.problems.append(
            Problem(
                "no-returns-log",
                f"年度文件夹中没有可读的 consolidated.xlsx 回收情况表：{RETURNS_LOG} 为空，被拒收的退回文件无法识别",
                str(year_dir),
                severity="warning",
            )
        )

    report = ArchiveReport(archive=out, skipped=skipped, problems=plan.problems + std_problems)
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for src in sources:
                report.members.append(_write_member(zf, src))
            manifest = _manifest_csv(report.members)
            report.manifest_sha256 = hashlib.sha256(manifest).hexdigest()
            zf.writestr(_zipinfo(MANIFEST_NAME, None), manifest)
            zf.writestr(_zipinfo(DIGEST_NAME, None), f"{report.manifest_sha256}  {MANIFEST_NAME}\n".encode())
    return report


# --- verification --------------------------------------------------------------------------------


def _unsafe_name(name: str) -> str:
    """Why a member name could write outside the folder it is extracted to ("" when it cannot)."""
    if not name:
        return "名称为空"
    if "\x00" in name:
        return "名称含空字符"
    if "\\" in name:
        return "名称含反斜杠（Windows 路径分隔符）"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "绝对路径"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "含 .. （指向上级文件夹）"
    if any(p in ("", ".") for p in parts):
        return "含空的或 . 路径段"
    return ""


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"超过 {limit} 字节")
    return data


def _hash_member(fh: IO[bytes], limit: int) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    while chunk := fh.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ValueError("解压后的大小超过声明")
        h.update(chunk)
    return h.hexdigest(), size


def _parse_manifest(data: bytes, report: VerifyReport) -> dict[str, Member]:
    try:
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        report.problems.append(Problem("bad-manifest", f"{MANIFEST_NAME} 无法读取：{exc}", MANIFEST_NAME))
        return {}
    if not rows or tuple(c.strip() for c in rows[0]) != MANIFEST_FIELDS:
        report.problems.append(
            Problem("bad-manifest", f"{MANIFEST_NAME} 的表头应为 {','.join(MANIFEST_FIELDS)}", MANIFEST_NAME)
        )
        return {}
    listed: dict[str, Member] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        bad = ""
        if len(row) != len(MANIFEST_FIELDS):
            bad = f"应有 {len(MANIFEST_FIELDS)} 列，实有 {len(row)} 列"
        elif not row[1].isdigit():
            bad = f"大小 {row[1]!r} 不是整数"
        elif not _HEX64.fullmatch(row[2]):
            bad = f"SHA-256 {row[2]!r} 格式不对"
        elif row[0] in listed:
            bad = "同一路径列出两次"
        elif why := _unsafe_name(row[0]):
            bad = f"路径不安全：{why}"
        if bad:
            report.problems.append(
                Problem("bad-manifest", f"{MANIFEST_NAME} 第 {n} 行：{bad}", row[0] if row else "")
            )
            continue
        listed[row[0]] = Member(row[0], int(row[1]), row[2], row[3], row[4])
    report.members = list(listed.values())
    return listed


def verify_archive(
    archive: Path | str,
    *,
    expected_manifest_sha256: str | None = None,
    max_total_size: int = MAX_TOTAL_SIZE,
    max_ratio: float = MAX_RATIO,
) -> VerifyReport:
    """Check an archive against its MANIFEST.csv without extracting anything.

    ``expected_manifest_sha256``: the digest recorded when the archive was made (ArchiveReport's
    ``manifest_sha256``, kept outside the zip); someone who rewrote members, MANIFEST.csv and
    MANIFEST.sha256 together is caught only against it.
    """
    archive = Path(archive)
    report = VerifyReport(archive=archive)
    problems = report.problems
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        problems.append(
            Problem("not-a-zip", f"不是可读的 zip 归档：{type(exc).__name__}: {exc}", str(archive))
        )
        return report
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if not _safe_to_read(zf.infolist(), problems, max_total_size, max_ratio):
            return report
        seen: dict[str, int] = {}
        folded: dict[str, str] = {}
        for info in zf.infolist():
            name = info.filename
            if why := _unsafe_name(name):
                problems.append(Problem("unsafe-name", f"成员名称不安全：{why}；未解压，也不应解压", name))
            seen[name] = seen.get(name, 0) + 1
            if seen[name] == 2:
                problems.append(Problem("duplicate-name", "归档中同一名称出现多次（解压时会互相覆盖）", name))
            key = name.casefold()
            if folded.setdefault(key, name) != name and seen[name] == 1:
                problems.append(
                    Problem(
                        "duplicate-name",
                        f"与 {folded[key]} 只差大小写（在 Windows 上解压时会互相覆盖）",
                        name,
                    )
                )
            if info.flag_bits & 0x1:
                problems.append(Problem("encrypted", "成员已加密，无法核对", name))
        by_name: dict[str, list[zipfile.ZipInfo]] = {}
        for info in infos:
            by_name.setdefault(info.filename, []).append(info)

        listed: dict[str, Member] = {}
        manifest_bytes = b""
        if MANIFEST_NAME not in by_name:
            problems.append(Problem("no-manifest", f"归档中没有 {MANIFEST_NAME}，无法核对", MANIFEST_NAME))
        else:
            try:
                manifest_bytes = _read_limited(zf, by_name[MANIFEST_NAME][0], MAX_MANIFEST_SIZE)
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                ValueError,
                NotImplementedError,
                OSError,
            ) as exc:
                problems.append(Problem("bad-manifest", f"{MANIFEST_NAME} 无法读取：{exc}", MANIFEST_NAME))
            else:
                report.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
                listed = _parse_manifest(manifest_bytes, report)
        _check_digest(zf, by_name, report, expected_manifest_sha256)

        for name, entries in by_name.items():
            if name in (MANIFEST_NAME, DIGEST_NAME):
                continue
            want = listed.get(name)
            if want is None:
                report.added.append(name)
                problems.append(
                    Problem("added", f"归档中有此文件，但 {MANIFEST_NAME} 没有列出（被加入）", name)
                )
                continue
            for info in entries:
                if info.flag_bits & 0x1:
                    digest, size = "", -1
                else:
                    try:
                        with zf.open(info) as fh:
                            digest, size = _hash_member(fh, max(info.file_size, 0))
                        report.checked += 1
                    except (
                        zipfile.BadZipFile,
                        zlib.error,
                        EOFError,
                        ValueError,
                        NotImplementedError,
                        OSError,
                    ) as exc:
                        problems.append(Problem("unreadable-member", f"成员无法读取（损坏）：{exc}", name))
                        digest, size = "", -1
                if digest != want.sha256 or size != want.size:
                    if name not in report.changed:
                        report.changed.append(name)
                        problems.append(
                            Problem(
                                "changed",
                                f"内容与 {MANIFEST_NAME} 记录的不一致（记录 {want.size} 字节、SHA-256 {want.sha256[:12]}…；"
                                f"实为 {size if size >= 0 else '?'} 字节、{digest[:12] or '?'}…）",
                                name,
                            )
                        )
        for name in listed:
            if name not in by_name:
                report.missing.append(name)
                problems.append(
                    Problem("missing", f"{MANIFEST_NAME} 列出了此文件，但归档中没有（被删除）", name)
                )
    return report


def _safe_to_read(
    infos: list[zipfile.ZipInfo], problems: list[Problem], max_total: int, max_ratio: float
) -> bool:
    """Sizes, ratios and overlapping entries checked from the central directory, before reading a byte."""
    total = sum(i.file_size for i in infos)
    if total > max_total:
        problems.append(
            Problem(
                "too-large",
                f"解压后共 {total} 字节，超过上限 {max_total} 字节（可能是 zip 炸弹），未读取",
                "",
            )
        )
        return False
    for i in infos:
        if i.file_size > RATIO_FLOOR and i.file_size > max_ratio * max(i.compress_size, 1):
            problems.append(
                Problem(
                    "zip-bomb",
                    f"压缩比 {i.file_size / max(i.compress_size, 1):.0f}:1 超过上限 {max_ratio:g}:1（可能是 zip 炸弹），未读取",
                    i.filename,
                )
            )
            return False

    def stored_name_size(i: zipfile.ZipInfo) -> int:
        return len(i.filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437", errors="replace"))

    spans = sorted(
        (
            (i.header_offset, i.header_offset + 30 + stored_name_size(i) + i.compress_size, n, i)
            for n, i in enumerate(infos)
        )
    )
    for (_s, end, _n, a), (nxt, _e, _m, b) in zip(spans, spans[1:], strict=False):
        if nxt < end:
            problems.append(
                Problem(
                    "overlapping-members",
                    f"成员 {a.filename} 与 {b.filename} 的数据重叠（zip 炸弹的手法），未读取",
                    "",
                )
            )
            return False
    return True


def _check_digest(
    zf: zipfile.ZipFile,
    by_name: dict[str, list[zipfile.ZipInfo]],
    report: VerifyReport,
    expected: str | None,
) -> None:
    problems = report.problems
    if DIGEST_NAME not in by_name:
        problems.append(
            Problem("no-manifest-digest", f"归档中没有 {DIGEST_NAME}，无法确认清单未被改动", DIGEST_NAME)
        )
    else:
        try:
            text = _read_limited(zf, by_name[DIGEST_NAME][0], 4096).decode("ascii")
            recorded = (text.split() or [""])[0].lower()
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, OSError) as exc:
            problems.append(
                Problem("manifest-digest-mismatch", f"{DIGEST_NAME} 无法读取：{exc}", DIGEST_NAME)
            )
        else:
            if report.manifest_sha256 and recorded != report.manifest_sha256:
                problems.append(
                    Problem(
                        "manifest-digest-mismatch",
                        f"{MANIFEST_NAME} 的 SHA-256 为 {report.manifest_sha256}，与 {DIGEST_NAME} 记录的 {recorded} 不一致：清单被改动",
                        MANIFEST_NAME,
                    )
                )
    if expected is not None and report.manifest_sha256 != expected.strip().lower():
        problems.append(
            Problem(
                "manifest-digest-unexpected",
                f"{MANIFEST_NAME} 的 SHA-256 为 {report.manifest_sha256 or '（无）'}，与归档时记录的 {expected} 不一致",
                MANIFEST_NAME,
            )
        )
