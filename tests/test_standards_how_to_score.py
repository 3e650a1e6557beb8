"""The parts of the standards that tell an examiner how to score: the 评审细则 introduction,
附录一 评分原则, the economic guides' 注 (quantity and quality terms), and the names and
texts the 评审细则 prints differently from 标准内容.  Checked against the seed line by line."""

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
from szqa_xl.standards.load import StandardError, builtin_standard, load_standard
from szqa_xl.standards.models import AWARD_IDS, Standard

REPO = Path(__file__).resolve().parent.parent
STANDARDS = REPO / "standards"
NON_ECONOMIC = tuple(a for a in AWARD_IDS if a != "economic")

# Lines (1-based) of seed 001 each passage is copied from, one line per paragraph.
INTRO_LINES = {
    "economic": (251, 253, 255),
    "culture": (1087, 1089, 1091, 1093),
    "social": (1616, 1618, 1620, 1622),
    "ecology": (2141, 2143, 2145, 2147),
    "management": (2661, 2663, 2665, 2667),
    "service": (3207, 3209, 3211, 3213),
}
PRINCIPLE_LINES = {
    "economic": (721,),
    "culture": (1325,),
    "social": (1854,),
    "ecology": (2371,),
    "management": (2892,),
    "service": (3437,),
}
ECONOMIC_CONSIDERATION_LINES = (723, 725, 727, 729)
ECONOMIC_NOTE_LINES = (873, 875)  # after 注： (line 871), under the result guide

# (award, code) -> (field, value, seed line printing it in 评审细则)
DETAIL_FIELDS = {
    ("economic", "1.3"): ("detail_name", "领导结果", 338),
    ("economic", "4.3"): ("detail_name", "以人为本结果", 565),
    ("culture", "3.2"): ("detail_name", "高质量运营的结果", 1283),
    ("culture", "3.3"): ("detail_text", "促进文化建设领域创新变革并发挥出显著示范带动作用的情况。", 1301),
    ("management", "1.1"): (
        "detail_text",
        "领导带领组织（项目）围绕国家和深圳城市发展战略确立正确的方向，通过确定方向与团队建设促进组织达成使命和目标。",
        2679,
    ),
    ("management", "1.1.1"): ("detail_name", "确定方向", 2680),
}

runner = CliRunner()


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def raw(award_id: str) -> dict:
    return yaml.safe_load((STANDARDS / f"{award_id}.yaml").read_text(encoding="utf-8"))


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def seed_line(seed_paths):
    (path,) = [p for p in seed_paths if p.name.startswith("001_")]
    lines = path.read_text(encoding="utf-8").splitlines()

    def line(n: int) -> str:
        text = lines[n - 1].strip()
        assert text, f"seed 001 line {n} is empty: the seed moved"
        return text

    return line


# --- 评审细则 introduction --------------------------------------------------------


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_reading_intro_is_the_seeds_paragraphs(award_id, seed_line):
    intro = builtin_standard(award_id).detail_intro
    assert intro is not None and intro.title == "评审细则"
    lines = INTRO_LINES[award_id]
    assert len(intro.paragraphs) == len(lines)
    for para, n in zip(intro.paragraphs, lines, strict=True):
        # the runs joined are exactly the printed paragraph: nothing dropped, nothing added
        assert squash(para.text) == squash(seed_line(n)), n


@pytest.mark.parametrize("award_id", NON_ECONOMIC)
def test_reading_intro_differs_for_organisation_and_project(award_id):
    std = builtin_standard(award_id)
    org, proj = std.reading_intro("organisation"), std.reading_intro("project")
    assert len(org) == len(proj) == 4
    assert [org[i] for i in (0, 1, 3)] == [proj[i] for i in (0, 1, 3)]
    assert "组织应提供现有水平、必要的趋势数据" in org[2] and "项目应提供" not in org[2]
    assert "项目应提供现有水平" in proj[2] and "组织应提供" not in proj[2]
    assert "适用时还需提供必要的趋势和对比数据" in proj[2]
    assert "适用时" not in org[2]
    # both keep the head and the tail of the paragraph
    for text in (org[2], proj[2]):
        assert text.startswith("“结果”类要点检查组织（项目）在关键领域的绩效情况")
        assert text.endswith("更充分、更有代表性的指标，以及更好的结果、趋势及比较数据有助于更准确的评价。")
    # as published: every run
    assert "组织应提供" in std.reading_intro()[2] and "项目应提供" in std.reading_intro()[2]


def test_economic_reading_intro():
    std = builtin_standard("economic")
    paras = std.reading_intro("organisation")
    assert paras == std.reading_intro()
    assert len(paras) == 3
    assert (
        "基本要求是每个类目的核心主题，总体要求是核心主题展开的主要内容，要点指引提供了更细致的观察点"
        in paras[0]
    )
    assert "并尽可能提供不少于3个连续年度数据，以及行业比较（标杆、竞争对手或行业平均水平）情况" in paras[1]
    with pytest.raises(ValueError, match="economic is awarded to organisation, not 'project'"):
        std.reading_intro("project")


def test_process_bands_key_on_the_three_levels_the_intro_defines():
    """The intro's 基本要求 / 总体要求 / 要点指引 are what the economic process bands name."""
    bands = builtin_standard("economic").guides.process.bands
    keyed = {(b.min, b.max): b.descriptors[0] for b in bands}
    assert "基本要求" in keyed[(10, 25)] and "基本要求" in keyed[(30, 45)]
    assert "总体要求" in keyed[(50, 65)]
    assert all("要点指引" in keyed[r] for r in ((70, 85), (90, 100)))


# --- 评分原则 ---------------------------------------------------------------------


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_principles_are_the_seeds_paragraphs(award_id, seed_line):
    sp = builtin_standard(award_id).scoring_principles
    assert sp is not None and sp.title == "评分原则"
    lines = PRINCIPLE_LINES[award_id]
    assert [squash(p.text) for p in sp.paragraphs] == [squash(seed_line(n)) for n in lines]
    if award_id == "economic":
        assert list(sp.considerations) == [seed_line(n) for n in ECONOMIC_CONSIDERATION_LINES]
    else:
        assert sp.considerations == sp.process_factors == sp.result_factors == ()


def test_economic_principles_factors(seed_line):
    sp = builtin_standard("economic").scoring_principles
    assert [(f.code, f.name, f.name_en) for f in sp.factors("process")] == [
        ("A", "方法", "Approach"),
        ("D", "展开", "Deployment"),
        ("L", "学习", "Learning"),
        ("I", "整合", "Integration"),
    ]
    assert [(f.code, f.name, f.name_en) for f in sp.factors("result")] == [
        ("Le", "水平", "Levels"),
        ("T", "趋势", "Trends"),
        ("C", "对比", "Comparisons"),
        ("I", "整合", "Integration"),
    ]
    # the structured factors say what the lead paragraph prints
    lead = squash(sp.paragraphs[0].text)
    for factors in (sp.process_factors, sp.result_factors):
        names = "、".join(f.name for f in factors[:-1]) + "和" + factors[-1].name
        english = "、".join(f.name_en for f in factors) + "," + "-".join(f.code for f in factors)
        assert squash(f"四个因素：{names}（{english}）") in lead
    assert lead.endswith("评价中要考虑以下要求：")
    # the result guide tags its bullets with the same letters
    tags = {
        re.search(r"（(\w+)）$", d)[1]
        for b in builtin_standard("economic").guides.result.bands
        for d in b.descriptors
    }
    assert tags == {f.code for f in sp.result_factors}


@pytest.mark.parametrize("award_id", NON_ECONOMIC)
def test_principles_by_applicant_kind(award_id):
    std = builtin_standard(award_id)
    (org,), (proj,) = std.principles_text("organisation"), std.principles_text("project")
    assert org.startswith("评分采用成熟度评价方法") and proj.startswith("评分采用成熟度评价方法")
    assert "组织应提供" in org and "项目应提供" not in org and "适用时" not in org
    assert "项目应提供" in proj and "组织应提供" not in proj
    assert proj.endswith("适用时还需提供必要的趋势和对比数据。")


# --- the economic guides' 注 -------------------------------------------------------


def test_economic_note_is_the_seeds(seed_line):
    guides = builtin_standard("economic").guides
    note = guides.result.note
    assert note is not None
    assert seed_line(871) == "注："
    assert [squash(t) for t in note.text.split("\n")] == [squash(seed_line(n)) for n in ECONOMIC_NOTE_LINES]
    assert guides.process.note is None


def test_economic_note_terms():
    guide = builtin_standard("economic").guides.result
    assert [(g.concept, g.basis) for g in guide.note.groups] == [
        ("quantity", "定量概念相对于总量而言"),
        ("quality", "定性术语相对于行业位次而言"),
    ]
    assert [(t.term, t.meaning, t.above_pct, t.below_pct) for t in guide.note_terms()] == [
        ("少量", "少于15%", None, 15),
        ("部分", "大于15%，小于30%", 15, 30),
        ("多数", "大于30%，小于50%", 30, 50),
        ("大多数", "大于50%，小于80%", 50, 80),
        ("良好", "高于行业平均水平", None, None),
        ("优异", "排名处于行业前四分之一地位", None, None),
        ("卓越", "排名处于行业前5%，或是示范领头地位，或是优于最强的竞争者", None, None),
    ]


def test_note_terms_beside_the_bands_they_qualify():
    guide = builtin_standard("economic").guides.result
    got = {b.label: [t.term for t in guide.note_terms_in(b)] for b in guide.bands}
    assert got == {
        "0–5%": [],
        "10–25%": ["少量"],
        "30–45%": ["部分", "多数"],
        "50–65%": ["多数", "良好"],
        "70–85%": ["多数", "大多数", "良好", "优异"],
        "90–100%": ["大多数", "良好", "卓越"],
    }
    # 大多数 is matched whole, not also as 多数
    top = guide.bands[-1]
    assert "多数" not in [t.term for t in guide.note_terms_in(top)]


def test_only_the_economic_guides_have_a_note(seed_paths):
    (path,) = [p for p in seed_paths if p.name.startswith("001_")]
    notes = [
        i + 1
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
        if line.strip() == "注："
    ]
    assert notes == [871]
    for award_id in NON_ECONOMIC:
        guides = builtin_standard(award_id).guides
        assert guides.process.note is None and guides.result.note is None
        assert guides.result.note_terms() == ()
        assert guides.result.note_terms_in(guides.result.bands[0]) == ()


# --- names and texts the 评审细则 prints differently ------------------------------


def _detail_fields(std: Standard) -> dict[tuple[str, str], tuple[str, str]]:
    found = {}
    for cat in std.categories:
        for item in cat.items:
            for field in ("detail_name", "detail_text"):
                if (value := getattr(item, field)) is not None:
                    found[(std.id, item.code)] = (field, value)
            for sub in item.sub_items:
                if sub.detail_name is not None:
                    found[(std.id, sub.code)] = ("detail_name", sub.detail_name)
    return found


def test_detail_names_and_texts(seed_line):
    found: dict = {}
    for award_id in AWARD_IDS:
        found |= _detail_fields(builtin_standard(award_id))
    assert found == {key: (field, value) for key, (field, value, _) in DETAIL_FIELDS.items()}
    for (_, code), (field, value, n) in DETAIL_FIELDS.items():
        line = squash(seed_line(n))
        if field == "detail_name":
            assert squash(value) in line and (code in line or line.startswith(squash(value))), n
        else:
            assert squash(value) == line, n


def test_detail_fields_differ_from_the_standard_content():
    economic, culture, management = (builtin_standard(a) for a in ("economic", "culture", "management"))
    item = {i.code: i for c in economic.categories for i in c.items}
    assert (item["1.3"].name, item["1.3"].detail_name) == ("领导的结果", "领导结果")
    assert (item["4.3"].name, item["4.3"].detail_name) == ("以人为本的结果", "以人为本结果")
    c32, c33 = culture.categories[2].items[1:3]
    assert (c32.name, c32.detail_name) == ("高质量运营结果", "高质量运营的结果")
    assert c33.description.endswith("的结果。") and c33.detail_text.endswith("的情况。")
    m11 = management.categories[0].items[0]
    assert m11.description != m11.detail_text
    assert (m11.sub_items[0].name, m11.sub_items[0].detail_name) == ("确立方向", "确定方向")


# --- the loader's rules for the new fields ----------------------------------------

REJECTIONS = [
    pytest.param(
        "economic",
        lambda d: d["detail_intro"]["paragraphs"][0]["parts"][0].update(applies_to="project"),
        ["detail_intro.paragraphs[0].parts[0].applies_to: economic is not awarded to 'project'"],
        id="part-for-an-applicant-kind-not-awarded",
    ),
    pytest.param(
        "culture",
        lambda d: d["scoring_principles"]["paragraphs"][0].update(
            parts=[p | {"applies_to": "project"} for p in d["scoring_principles"]["paragraphs"][0]["parts"]]
        ),
        ["scoring_principles.paragraphs[0].parts: nothing in this paragraph applies to 'organisation'"],
        id="paragraph-empty-for-organisations",
    ),
    pytest.param(
        "economic",
        lambda d: d["guides"]["result"]["note"]["groups"][0]["terms"][0].update(below_pct=20),
        ["guides.result.note.groups[0].terms[0].below_pct: 20 is not what '少于15%' says"],
        id="note-range-not-as-published",
    ),
    pytest.param(
        "economic",
        lambda d: d["guides"]["result"]["note"]["groups"][0]["terms"][1].update(above_pct=None),
        ["guides.result.note.groups[0].terms[1].above_pct: None is not what '大于15%，小于30%' says"],
        id="note-range-missing",
    ),
    pytest.param(
        "economic",
        lambda d: d["guides"]["result"]["note"]["groups"][1]["terms"][0].update(meaning="高于行业水平"),
        ["guides.result.note.groups[1].terms[0]: 良好-高于行业水平 is not in the note's text"],
        id="note-term-not-in-note-text",
    ),
    pytest.param(
        "economic",
        lambda d: d["guides"]["result"]["note"]["groups"][1]["terms"][0].update(above_pct=50),
        ["guides.result.note.groups[1].terms[0]: a quality term has no percentage range"],
        id="quality-term-with-range",
    ),
    pytest.param(
        "management",
        lambda d: d["categories"][0]["items"][0]["sub_items"][0].update(detail_name="确立方向"),
        ["categories[0].items[0].sub_items[0].detail_name: same as name; leave it null"],
        id="detail-name-same-as-name",
    ),
    pytest.param(
        "culture",
        lambda d: d["categories"][2]["items"][2].update(
            detail_text=d["categories"][2]["items"][2]["description"]
        ),
        ["categories[2].items[2].detail_text: same as description; leave it null"],
        id="detail-text-same-as-description",
    ),
    pytest.param(
        "culture",
        lambda d: d["detail_intro"]["paragraphs"][2]["parts"][1].update(applies_to="organization"),
        ["detail_intro.paragraphs.2.parts.1.applies_to:", "'any', 'organisation' or 'project'"],
        id="misspelt-applies-to",
    ),
    pytest.param(
        "economic",
        lambda d: d["scoring_principles"].update(factors=[]),
        ["scoring_principles.factors: Extra inputs are not permitted"],
        id="unknown-principles-field",
    ),
]


@pytest.mark.parametrize(("award_id", "mutate", "expected"), REJECTIONS)
def test_loader_rejects(tmp_path, award_id, mutate, expected):
    data = raw(award_id)
    mutate(data)
    path = write(tmp_path / f"{award_id}-broken.yaml", data)
    with pytest.raises(StandardError) as info:
        load_standard(path)
    for fragment in expected:
        assert fragment in str(info.value)


def test_new_fields_are_optional():
    """An edition without them still loads (older files, other tools)."""
    for award_id in AWARD_IDS:
        data = raw(award_id)
        del data["detail_intro"], data["scoring_principles"]
        data["guides"]["result"].pop("note", None)
        std = Standard.model_validate(data)
        assert std.reading_intro() == () and std.principles_text() == ()
        assert std.guides.result.note_terms() == ()


# --- diff names a changed principle, note term or introduction paragraph ----------


def test_diff_names_a_changed_principle():
    data = raw("culture")
    part = data["scoring_principles"]["paragraphs"][0]["parts"][2]
    old = part["text"]
    part["text"] = old.replace("适用时还需提供", "还需提供")
    changes = diff_standards(builtin_standard("culture"), Standard.model_validate(data))
    assert changes == [Change("text", "scoring_principles.paragraphs[0].parts[2].text", old, part["text"])]
    assert changes[0].describe().startswith("~ scoring_principles.paragraphs[0].parts[2].text text changed")


def test_diff_names_a_changed_economic_principle_and_consideration():
    data = raw("economic")
    sp = data["scoring_principles"]
    old_lead, old_point = sp["paragraphs"][0]["parts"][0]["text"], sp["considerations"][1]
    sp["paragraphs"][0]["parts"][0]["text"] = old_lead.replace("四个因素", "4个因素", 1)
    sp["considerations"][1] = "要素之间相互关联；"
    sp["result_factors"][0]["name_en"] = "Level"
    changes = diff_standards(builtin_standard("economic"), Standard.model_validate(data))
    assert sorted(changes, key=repr) == sorted(
        [
            Change(
                "text",
                "scoring_principles.paragraphs[0].parts[0].text",
                old_lead,
                sp["paragraphs"][0]["parts"][0]["text"],
            ),
            Change("text", "scoring_principles.considerations[1]", old_point, "要素之间相互关联；"),
            Change("text", "scoring_principles.result_factors[Le].name_en", "Levels", "Level"),
        ],
        key=repr,
    )


def test_diff_names_a_changed_note_term():
    data = raw("economic")
    term = data["guides"]["result"]["note"]["groups"][0]["terms"][0]
    term["meaning"], term["below_pct"] = "少于20%", 20
    note = data["guides"]["result"]["note"]
    note["text"] = note["text"].replace("少量-少于15%", "少量-少于20%")
    changes = diff_standards(builtin_standard("economic"), Standard.model_validate(data))
    where = {c.where: (c.old, c.new) for c in changes}
    assert where == {
        "guides.result.note.text": (raw("economic")["guides"]["result"]["note"]["text"], note["text"]),
        "guides.result.note.groups[0].terms[少量].meaning": ("少于15%", "少于20%"),
        "guides.result.note.groups[0].terms[少量].below_pct": (15, 20),
    }


def test_diff_names_a_changed_reading_intro_paragraph():
    data = raw("service")
    part = data["detail_intro"]["paragraphs"][2]["parts"][1]
    assert part["applies_to"] == "organisation"
    part["applies_to"] = "any"
    para = data["detail_intro"]["paragraphs"][3]["parts"][0]
    old = para["text"]
    para["text"] = old.replace("评审应具备系统的思路。", "评审应具备系统思路。")
    changes = diff_standards(builtin_standard("service"), Standard.model_validate(data))
    assert sorted(changes, key=repr) == sorted(
        [
            Change("text", "detail_intro.paragraphs[2].parts[1].applies_to", "organisation", "any"),
            Change("text", "detail_intro.paragraphs[3].parts[0].text", old, para["text"]),
        ],
        key=repr,
    )


def test_diff_sees_detail_names_and_a_removed_intro_paragraph():
    data = raw("management")
    data["categories"][0]["items"][0]["sub_items"][0]["detail_name"] = None
    removed = data["detail_intro"]["paragraphs"].pop()
    changes = diff_standards(builtin_standard("management"), Standard.model_validate(data))
    assert (
        Change("text", "categories[1].items[1.1].sub_items[1.1.1].detail_name", "确定方向", None) in changes
    )
    assert (
        Change("text removed", "detail_intro.paragraphs[3].parts[0].text", removed["parts"][0]["text"], None)
        in changes
    )


@pytest.fixture
def wide_console(monkeypatch):
    monkeypatch.setattr(cli.console, "_width", 160)
    monkeypatch.setattr(cli.err, "_width", 160)


def test_cli_diff_names_a_changed_principle(tmp_path, wide_console):
    data = raw("social")
    part = data["scoring_principles"]["paragraphs"][0]["parts"][0]
    part["text"] = part["text"].replace("成熟度评价方法", "成熟度评分方法", 1)
    new_path = write(tmp_path / "social-new.yaml", data)
    result = runner.invoke(app, ["standards", "diff", str(STANDARDS / "social.yaml"), str(new_path)])
    assert result.exit_code == 1, result.output
    assert "scoring_principles.paragraphs[0].parts[0].text" in result.output
    assert "1 change(s)" in result.output
    assert "评分采用成熟度评分方法" in squash(result.output)


# --- tools/check_seed_text.py checks the new strings too ---------------------------


def _tool():
    spec = importlib.util.spec_from_file_location("_check_seed_text", REPO / "tools" / "check_seed_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("award_id", AWARD_IDS)
def test_check_seed_text_tool_covers_the_new_strings(award_id, seeds_text, capsys):
    tool = _tool()
    std = builtin_standard(award_id)
    checked = {text for _, text in tool.texts(std) if text}
    for para in std.detail_intro.paragraphs + std.scoring_principles.paragraphs:
        assert para.text in checked
        assert {p.text for p in para.parts} <= checked
    assert set(std.scoring_principles.considerations) <= checked
    if award_id == "economic":
        note = std.guides.result.note
        assert set(note.text.split("\n")) <= checked
        assert {f"{t.term}-{t.meaning}" for t in note.terms()} <= checked
        assert {g.basis for g in note.groups} <= checked
        assert {"领导结果", "以人为本结果"} <= checked
    assert tool.main(STANDARDS / f"{award_id}.yaml") == 0
    assert "0 texts not in seed" in capsys.readouterr().out


def test_check_seed_text_tool_reports_a_principle_not_in_the_seed(tmp_path, seeds_text, capsys):
    data = raw("ecology")
    data["scoring_principles"]["paragraphs"][0]["parts"][0]["text"] += "另加一句。"
    path = write(tmp_path / "ecology.yaml", data)
    assert _tool().main(path) == 1
    out = capsys.readouterr().out
    assert "NOT IN SEED: scoring_principles paragraph 1" in out


def test_check_seed_text_tool_reports_a_stray_space(tmp_path, seeds_text, capsys):
    data = raw("service")
    point = data["categories"][0]["items"][0]["sub_items"][0]["guidance"][0]
    point["text"] = point["text"].replace("体现“为民", "体现 “为民")
    path = write(tmp_path / "service.yaml", data)
    assert _tool().main(path) == 1
    assert "STRAY SPACE: sub 1.1.1 guidance 1.1.1.1" in capsys.readouterr().out
