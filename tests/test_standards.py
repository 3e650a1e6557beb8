"""The six award standards as data: content against the published text, loader rules,
fingerprint, schema, diff and the ``szqa standards`` commands."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from szqa_xl import cli
from szqa_xl.cli import app
from szqa_xl.standards.diff import Change, diff_standards
from szqa_xl.standards.load import (
    StandardError,
    builtin_standard,
    fingerprint,
    load_standard,
    schema_json,
)
from szqa_xl.standards.models import AWARD_IDS, Standard

REPO = Path(__file__).resolve().parent.parent
STANDARDS = REPO / "standards"
NON_ECONOMIC = tuple(a for a in AWARD_IDS if a != "economic")

# Line ranges (1-based, inclusive) of each standard inside seed 001.
SEED_001_LINES = {
    "economic": (1, 937),
    "culture": (938, 1467),
    "social": (1468, 1995),
    "ecology": (1996, 2512),
    "management": (2513, 3057),
    "service": (3058, 3578),
}

runner = CliRunner()


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def raw(award_id: str) -> dict:
    return yaml.safe_load((STANDARDS / f"{award_id}.yaml").read_text(encoding="utf-8"))


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def szqa(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Tables as on a wide terminal, whatever COLUMNS the test run inherits."""
    monkeypatch.setattr(cli.console, "_width", 160)
    monkeypatch.setattr(cli.err, "_width", 160)


# --- the seed-text fixture itself ------------------------------------------------


def _conftest():
    spec = importlib.util.spec_from_file_location(
        "_szqa_tests_conftest", Path(__file__).parent / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_seeds_skip_with_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("SZQA_REQUIRE_SEEDS", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/seeds not found beside the checkout"):
        _conftest().seed_files(tmp_path / "no-seeds")


def test_missing_seeds_fail_when_required(tmp_path, monkeypatch):
    monkeypatch.setenv("SZQA_REQUIRE_SEEDS", "1")
    with pytest.raises(pytest.fail.Exception, match="SZQA_REQUIRE_SEEDS=1"):
        _conftest().seed_files(tmp_path / "no-seeds")


# --- counts, totals and kinds ----------------------------------------------------

SHAPE = {a: (3, 16, 5) for a in NON_ECONOMIC} | {"economic": (6, 18, 6)}


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_outline_counts_and_totals(award_id):
    std = builtin_standard(award_id)
    n_categories, n_units, n_bands = SHAPE[award_id]
    units = std.units()
    assert std.id == award_id
    assert len(std.categories) == n_categories
    assert len(units) == n_units
    assert len({u.code for u in units}) == n_units
    assert len(std.guides.process.bands) == n_bands
    assert len(std.guides.result.bands) == n_bands
    assert std.total_points == 500
    assert sum(c.points for c in std.categories) == 500
    assert sum(u.points for u in units) == 500
    for cat in std.categories:
        assert sum(i.points for i in cat.items) == cat.points, cat.code
    if award_id == "economic":
        assert std.scoring_unit == "item"
        assert std.applicant_kinds == ("organisation",)
        assert all(len(u.guidance) == 4 for u in units), [(u.code, len(u.guidance)) for u in units]
        assert all(len(u.standard_points) in (0, 4) for u in units)
    else:
        assert std.scoring_unit == "sub_item"
        assert std.applicant_kinds == ("organisation", "project")
        assert all(u.guidance for u in units)


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_unit_kinds(award_id):
    std = builtin_standard(award_id)
    got = {u.code: u.kind for u in std.units()}
    if award_id == "economic":
        # in every category: x.1 and x.2 are processes, x.3 is the result
        expected = {
            u.code: {"1": "process", "2": "process", "3": "result"}[u.code.split(".")[1]] for u in std.units()
        }
    else:
        # categories 1 and 2 are processes, category 3 is the results
        expected = {u.code: "result" if u.category_code == "3" else "process" for u in std.units()}
    assert got == expected
    assert set(got.values()) == {"process", "result"}


def test_economic_outline_is_six_categories_of_three_items():
    std = builtin_standard("economic")
    codes = [[i.code for i in c.items] for c in std.categories]
    assert codes == [[f"{c}.{i}" for i in (1, 2, 3)] for c in range(1, 7)]
    assert [u.points for u in std.units() if u.kind == "result"] == [40] * 6


# --- every text comes from the published standard -------------------------------

# Keys whose values are identifiers or labels of this project, not copied text.
NOT_SEED_TEXT = {"id", "code", "kind", "applies_to", "concept", "scoring_unit", "applicant_kinds", "edition"}


def _texts(obj, path=""):
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key not in NOT_SEED_TEXT:
                yield from _texts(value, f"{path}.{key}" if path else key)
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from _texts(value, f"{path}[{i}]")


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_every_text_occurs_in_the_seed(award_id, seeds_text):
    std = builtin_standard(award_id)
    texts = list(_texts(std.model_dump(mode="json")))
    # the walk reaches every kind of text the format defines
    leaf_keys = {re.sub(r"\[\d+\]", "", p).rsplit(".", 1)[-1] for p, _ in texts}
    assert {"note", "text", "description", "title", "descriptors", "definition", "name"} <= leaf_keys
    # ... including the 评审细则 introduction and 评分原则 (paragraph runs are "text")
    assert any(p.startswith("detail_intro.paragraphs[") for p, _ in texts)
    assert any(p.startswith("scoring_principles.paragraphs[") for p, _ in texts)
    if award_id == "economic":
        assert {"requirement", "standard_points", "detail_name"} <= leaf_keys
        assert {"considerations", "name_en", "basis", "term", "meaning"} <= leaf_keys  # 评分原则, 注
    if award_id == "culture":
        assert {"detail_name", "detail_text"} <= leaf_keys
    if award_id == "management":
        assert {"detail_name", "detail_text"} <= leaf_keys
    assert len(texts) > 150
    missing = [f"{path}: {text[:60]}" for path, text in texts if squash(text) not in seeds_text]
    assert not missing, f"{len(missing)} text(s) of {award_id}.yaml not in the seed:\n" + "\n".join(missing)


# A space the PDF extraction left between two Chinese characters or marks: culture's
# 程 度 (3.2) and service's 体现 “为民 (1.1.1.1) are mended in the YAML.  A "\n" (a
# paragraph break inside one text) is not a stray space.
STRAY_SPACE = re.compile(r"[^\x00-\x7f][ \t\u3000]+[^\x00-\x7f]")


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_no_stray_spaces_from_the_extraction(award_id):
    std = builtin_standard(award_id)
    stray = [
        f"{path}: …{text[max(0, m.start() - 8) : m.end() + 8]}…"
        for path, text in _texts(std.model_dump(mode="json"))
        if (m := STRAY_SPACE.search(text))
    ]
    assert not stray, "\n".join(stray)


def test_mended_spaces(seed_001):
    """The seed prints these with a space inside; the YAML has them without it."""
    culture, service = builtin_standard("culture"), builtin_standard("service")
    assert "感知程 度" in seed_001[1063 - 1] and "感知程 度" in seed_001[1285 - 1]
    assert culture.categories[2].items[1].description.endswith("公众感知程度。")
    assert "体现 “为民" in seed_001[3227 - 1]
    (point,) = [g for g in service.unit("1.1.1").guidance if g.code == "1.1.1.1"]
    assert "体现“为民、务实、清廉、效能”等价值取向" in point.text


def test_seed_typos_stay_as_published():
    """The seed's own typos are copied, not corrected (see docs/standards-format.md)."""
    for award_id in NON_ECONOMIC:
        std = builtin_standard(award_id)
        assert "突施计划" in std.guides.process.bands[1].descriptors[0], award_id
        assert "“创新、协调、绿色、开发、共享”" in {t.term: t.definition for t in std.glossary}["深圳质量"]
    culture = builtin_standard("culture")
    assert any("函需解决的疑难问题" in g.text for g in culture.unit("2.3.1").guidance)


# --- the outline matches the seed's headings ------------------------------------

_PTS = r"\s*[（(]\s*(\d+)\s*分\s*[）)]"
_NAME = r"\s*([^\s\d.（(][^（(]*?)"
HEADING = {
    1: re.compile(r"^\s*(\d+)[.．]" + _NAME + _PTS + r"\s*$"),
    2: re.compile(r"^\s*(\d+\.\d+)" + _NAME + _PTS),
    3: re.compile(r"^\s*(\d+\.\d+\.\d+)" + _NAME + _PTS),
}


def _headings(lines: list[str], depth: int) -> set[tuple[str, str, int]]:
    """(code, name, points) of every heading such as 1.1.1确定方向（30分） or 1.2规划定位(60分)."""
    return {(m[1], squash(m[2]), int(m[3])) for line in lines if (m := HEADING[depth].match(line))}


@pytest.fixture(scope="module")
def seed_001(seed_paths) -> list[str]:
    (path,) = [p for p in seed_paths if p.name.startswith("001_")]
    return path.read_text(encoding="utf-8").splitlines()


def _section(seed_001, award_id):
    first, last = SEED_001_LINES[award_id]
    lines = seed_001[first - 1 : last]
    assert squash(builtin_standard(award_id).title) in squash("".join(lines[:5])), "seed line ranges moved"
    return lines


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_scoring_units_match_seed_outline(award_id, seed_001):
    std = builtin_standard(award_id)
    lines = _section(seed_001, award_id)
    depth = 2 if award_id == "economic" else 3
    seed = _headings(lines, depth)
    assert {(u.code, u.points) for u in std.units()} == {(code, pts) for code, _, pts in seed}
    # each unit's name is one of the names the seed prints for that code
    names = {(code, name) for code, name, _ in seed}
    assert [u.code for u in std.units() if (u.code, squash(u.name)) not in names] == []


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_categories_and_items_match_seed_outline(award_id, seed_001):
    std = builtin_standard(award_id)
    lines = _section(seed_001, award_id)
    assert {(c.code, c.points) for c in std.categories} == {(c, p) for c, _, p in _headings(lines, 1)}
    items = {(i.code, i.points) for c in std.categories for i in c.items}
    assert items == {(c, p) for c, _, p in _headings(lines, 2)}


def test_economic_outline_matches_the_other_seed(seed_paths):
    """Seed 000 is a second extraction of the economic standard: same units, same points."""
    (path,) = [p for p in seed_paths if p.name.startswith("000_")]
    lines = path.read_text(encoding="utf-8").splitlines()
    std = builtin_standard("economic")
    assert {(u.code, u.points) for u in std.units()} == {(c, p) for c, _, p in _headings(lines, 2)}


# --- the loader rejects broken editions, naming the file and the field ---------


def _set(path: str, value):
    """A mutation that sets one field, path like 'categories.0.items.1.code'."""

    def mutate(d):
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in parents:
            d = d[key]
        d[last] = value

    return mutate


def _delete(path: str):
    def mutate(d):
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in parents:
            d = d[key]
        del d[last]

    return mutate


def _all(*mutations):
    def mutate(d):
        for m in mutations:
            m(d)

    return mutate


REJECTIONS = [
    pytest.param(
        "culture",
        _set("categories.0.items.0.sub_items.0.points", 35),
        ["categories[0].items[0].points:", "1.1 领导力 is 60 but its sub-items sum to 65"],
        id="unit-points-not-summing-to-item",
    ),
    pytest.param(
        "culture",
        _all(_set("categories.0.items.0.points", 65), _set("categories.0.items.0.sub_items.0.points", 35)),
        ["categories[0].points:", "1 高标准定位 is 120 but its items sum to 125"],
        id="item-points-not-summing-to-category",
    ),
    pytest.param(
        "economic",
        _set("categories.0.items.0.points", 25),
        ["categories[0].points:", "1 领导 is 80 but its items sum to 85"],
        id="economic-item-points-not-summing-to-category",
    ),
    pytest.param(
        "economic",
        _all(_set("categories.0.points", 85), _set("categories.0.items.2.points", 45)),
        ["categories: points sum to 505, not 500"],
        id="categories-not-summing-to-500",
    ),
    pytest.param(
        "economic",
        _set("categories.0.items.1.code", "1.1"),
        ["categories[0].items[1].code:", "'1.1' is used twice"],
        id="duplicate-code",
    ),
    pytest.param(
        "economic",
        _set("categories.0.items.0.code", "1.a"),
        ["categories[0].items[0].code:", "'1.a' is not a well-formed code"],
        id="malformed-code-letter",
    ),
    pytest.param(
        "economic",
        _set("categories.0.items.0.code", "01.1"),
        ["categories[0].items[0].code:", "'01.1' is not a well-formed code"],
        id="malformed-code-leading-zero",
    ),
    pytest.param(
        "culture",
        _set("categories.0.items.0.sub_items.1.code", "1.2.2"),
        ["categories[0].items[0].sub_items[1].code:", "'1.2.2' does not belong to '1.1'"],
        id="sub-item-under-wrong-item",
    ),
    pytest.param(
        "economic",
        _set("guides.process.bands.1.min", 15),
        ["guides.process.bands[1].min:", "gap or overlap between 0–5 and 15–25"],
        id="band-gap",
    ),
    pytest.param(
        "culture",
        _set("guides.result.bands.2.min", 30),
        ["guides.result.bands[2].min:", "gap or overlap between 20–40 and 30–60"],
        id="band-overlap",
    ),
    pytest.param(
        "economic",
        _all(_set("guides.process.bands.1.max", 27), _set("guides.process.bands.2.min", 27)),
        ["guides.process.bands[1]:", "range 10–27 is not on the 5% grid"],
        id="band-off-grid",
    ),
    pytest.param(
        "economic",
        _set("guides.result.bands.5.max", 95),
        ["guides.result.bands[5].max:", "the guide ends at 95, not 100"],
        id="guide-not-ending-at-100",
    ),
    pytest.param(
        "culture",
        _set("guides.process.bands.0.min", 5),
        ["guides.process.bands[0].min:", "the guide starts at 5, not 0"],
        id="guide-not-starting-at-0",
    ),
    pytest.param(
        "economic",
        _delete("categories.0.items.0.kind"),
        ["categories[0].items[0].kind:", "scoring unit 1.1 has no kind"],
        id="economic-unit-without-kind",
    ),
    pytest.param(
        "culture",
        _set("categories.0.items.0.sub_items.0.kind", "procss"),
        ["categories.0.items.0.sub_items.0.kind:", "'process' or 'result'"],
        id="misspelt-kind",
    ),
    pytest.param(
        "economic",
        _set("categories.0.items.0.weight", 1),
        ["categories.0.items.0.weight:", "Extra inputs are not permitted"],
        id="unknown-field",
    ),
    pytest.param(
        "economic",
        _delete("guides"),
        ["guides: Field required"],
        id="missing-required-field",
    ),
]


@pytest.mark.parametrize(("award_id", "mutate", "expected"), REJECTIONS)
def test_loader_rejects(tmp_path, award_id, mutate, expected):
    data = raw(award_id)
    mutate(data)
    path = write(tmp_path / f"{award_id}-broken.yaml", data)
    with pytest.raises(StandardError) as info:
        load_standard(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert info.value.path == str(path)
    for fragment in expected:
        assert fragment in message


def test_unmodified_copy_loads(tmp_path):
    """The rejections above come from the mutation, not from the YAML round trip."""
    for award_id in AWARD_IDS:
        path = write(tmp_path / f"{award_id}.yaml", raw(award_id))
        assert load_standard(path) == builtin_standard(award_id)


def test_loader_rejects_bad_yaml_syntax(tmp_path):
    text = (STANDARDS / "economic.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("edition:"))
    lines[n] = "edition: [现行版"
    path = tmp_path / "economic.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(StandardError) as info:
        load_standard(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read:")
    assert re.search(r"line \d+", message)


@pytest.mark.parametrize("content", ["", "- just\n- a list\n"], ids=["empty", "list"])
def test_loader_rejects_non_mapping(tmp_path, content):
    path = tmp_path / "odd.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StandardError, match="top level is not a mapping") as info:
        load_standard(path)
    assert str(path) in str(info.value)


def test_loader_reports_missing_file(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(StandardError, match="cannot read") as info:
        load_standard(path)
    assert str(path) in str(info.value)


def test_builtin_standard_unknown_id():
    with pytest.raises(KeyError, match="unknown award category 'nope'"):
        builtin_standard("nope")


# --- fingerprint -----------------------------------------------------------------


def test_fingerprint_is_stable_and_distinct():
    prints = {}
    for award_id in AWARD_IDS:
        path = STANDARDS / f"{award_id}.yaml"
        first, second = fingerprint(load_standard(path)), fingerprint(load_standard(path))
        assert first == second
        assert re.fullmatch(r"[0-9a-f]{64}", first)
        prints[award_id] = first
    assert len(set(prints.values())) == len(AWARD_IDS)


def test_fingerprint_ignores_yaml_layout(tmp_path):
    """Re-dumping the file (other key order, other line breaks) keeps the edition's identity."""
    data = raw("culture")
    path = tmp_path / "culture.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=40), encoding="utf-8")
    assert fingerprint(load_standard(path)) == fingerprint(builtin_standard("culture"))


def test_fingerprint_changes_with_one_sentence(tmp_path):
    data = raw("culture")
    guidance = data["categories"][0]["items"][0]["sub_items"][0]["guidance"][0]
    guidance["text"] = guidance["text"].replace("领导", "领导层", 1)
    changed = load_standard(write(tmp_path / "culture.yaml", data))
    assert fingerprint(changed) != fingerprint(builtin_standard("culture"))


# --- schema ----------------------------------------------------------------------


def test_schema_is_current():
    on_disk = (STANDARDS / "schema.json").read_text(encoding="utf-8")
    assert on_disk == schema_json(), (
        "standards/schema.json is out of date: run `szqa standards schema -o standards/schema.json`"
    )


# --- diff ------------------------------------------------------------------------


def _culture_edition() -> tuple[dict, str, str]:
    """culture.yaml with 5 points moved from 1.1.2 to 1.1.1 and one sentence reworded."""
    data = raw("culture")
    subs = data["categories"][0]["items"][0]["sub_items"]
    assert (subs[0]["code"], subs[0]["points"], subs[1]["code"], subs[1]["points"]) == (
        "1.1.1",
        30,
        "1.1.2",
        30,
    )
    subs[0]["points"], subs[1]["points"] = 35, 25
    cat = data["categories"][1]
    old = cat["description"]
    new = old.replace("组织", "机构", 1)
    assert new != old
    cat["description"] = new
    return data, old, new


def _culture_expected(old: str, new: str) -> list[Change]:
    return [
        Change("text", "categories[2].description", old, new),
        Change("points", "1.1.1", 30, 35),
        Change("points", "1.1.2", 30, 25),
    ]


def test_diff_standards_reports_exactly_the_changes():
    data, old, new = _culture_edition()
    changes = diff_standards(builtin_standard("culture"), Standard.model_validate(data))
    assert sorted(changes, key=repr) == sorted(_culture_expected(old, new), key=repr)


def test_diff_standards_economic_items():
    data = raw("economic")
    items = data["categories"][3]["items"]
    assert [(i["code"], i["points"]) for i in items[:2]] == [("4.1", 15), ("4.2", 20)]
    items[0]["points"], items[1]["points"] = 20, 15
    point = items[1]["standard_points"][2]
    items[1]["standard_points"][2] = point.rstrip("；。") + "。"
    assert items[1]["standard_points"][2] != point
    changes = diff_standards(builtin_standard("economic"), Standard.model_validate(data))
    assert sorted(changes, key=repr) == sorted(
        [
            Change("points", "4.1", 15, 20),
            Change("points", "4.2", 20, 15),
            Change(
                "text", "categories[4].items[4.2].standard_points[2]", point, items[1]["standard_points"][2]
            ),
        ],
        key=repr,
    )


def test_diff_standards_kind_and_identical():
    std = builtin_standard("social")
    assert diff_standards(std, std) == []
    data = raw("social")
    data["categories"][2]["items"][0]["sub_items"][0]["kind"] = "process"
    assert diff_standards(std, Standard.model_validate(data)) == [
        Change("kind", "3.1.1", "result", "process")
    ]


def test_cli_diff_reports_changes(tmp_path):
    data, old, new = _culture_edition()
    new_path = write(tmp_path / "culture-2028.yaml", data)
    result = szqa("standards", "diff", str(STANDARDS / "culture.yaml"), str(new_path))
    assert result.exit_code == 1, result.output
    changes = diff_standards(builtin_standard("culture"), load_standard(new_path))
    assert sorted(changes, key=repr) == sorted(_culture_expected(old, new), key=repr)
    # one block per change, in diff order, then the count; the console may wrap long
    # sentences, so compare without whitespace
    printed = "".join(c.describe() for c in changes) + "3 change(s)"
    assert squash(result.output) == squash(printed)
    assert "~ 1.1.1 points 30 → 35" in result.output
    assert "~ 1.1.2 points 30 → 25" in result.output


def test_cli_diff_identical(tmp_path):
    copy_path = write(tmp_path / "economic.yaml", raw("economic"))
    result = szqa("standards", "diff", str(STANDARDS / "economic.yaml"), str(copy_path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no changes"


def test_cli_diff_invalid_file(tmp_path):
    data = raw("culture")
    data["categories"][0]["items"][0]["sub_items"][0]["points"] = 35
    bad = write(tmp_path / "culture-bad.yaml", data)
    result = szqa("standards", "diff", str(STANDARDS / "culture.yaml"), str(bad))
    assert result.exit_code == 2, result.output
    output = squash(result.output)
    assert squash(f"error: {bad}") in output
    assert "categories[0].items[0].points" in output
    assert "change" not in output


# Known gaps of diff_standards (see the report): changes it does not see at all.
DIFF_BLIND_SPOTS = [
    pytest.param(
        "culture",
        lambda d: d["categories"][0]["items"][0]["sub_items"][0]["guidance"].append({"text": "新增要点"}),
        id="guidance-point-added",
    ),
    pytest.param("economic", lambda d: d["glossary"].pop(), id="glossary-term-removed"),
    pytest.param(
        "economic",
        _set("categories.0.items.0.guidance.0.title", "文化确立"),
        id="guidance-title-renamed",
    ),
    pytest.param(
        "culture",
        _all(_set("guides.process.bands.0.max", 25), _set("guides.process.bands.1.min", 25)),
        id="band-range-moved",
    ),
    pytest.param("culture", _set("categories.0.detail_name", "高标准的定位"), id="null-becomes-text"),
]


@pytest.mark.parametrize(("award_id", "mutate"), DIFF_BLIND_SPOTS)
def test_diff_sees_every_change(award_id, mutate):
    data = raw(award_id)
    mutate(data)
    edited = Standard.model_validate(data)
    assert fingerprint(edited) != fingerprint(builtin_standard(award_id))
    assert diff_standards(builtin_standard(award_id), edited) != []


# --- szqa standards list / show ----------------------------------------------------


def test_cli_list():
    result = szqa("standards", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for award_id in AWARD_IDS:
        std = builtin_standard(award_id)
        (row,) = [line for line in lines if re.search(rf"\b{award_id}\b", line)]
        cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
        assert cells == [
            award_id,
            std.name_zh,
            "18" if award_id == "economic" else "16",
            "500",
            std.edition,
            fingerprint(std)[:12],
        ]
    assert "经济类" in result.output and "服务类" in result.output


def _rows(output: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.count("│") >= 4
    ]


def test_cli_show_economic():
    result = szqa("standards", "show", "economic")
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert ["1.1", "文化引领", "20", "过程"] in rows
    assert ["1.3", "领导的结果", "40", "结果"] in rows
    assert ["1", "领导（远见卓识的领导）", "80", ""] in rows
    assert len([r for r in rows if r[3]]) == 18
    assert "评分单元 18 个，合计 500 分" in result.output


def test_cli_show_culture_by_chinese_name():
    result = szqa("standards", "show", "文化类")
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert ["1.1.1", "确定方向", "30", "过程"] in rows
    assert ["1.1", "领导力", "60", ""] in rows
    assert ["3.3.2", "示范效应", "40", "结果"] in rows
    assert "评分单元 16 个，合计 500 分" in result.output


def test_cli_show_unknown():
    result = szqa("standards", "show", "nope")
    assert result.exit_code == 2
    assert "error" in result.output
    assert "nope" in result.output
