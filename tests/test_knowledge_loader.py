"""Loading cards/: a broken file stops start-up with the file, the path inside it and the reason."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from cds_service.clinical.facts import FACTS
from cds_service.knowledge import loader
from cds_service.knowledge.loader import KnowledgeBaseError
from cds_service.knowledge.model import KnowledgeBase

CARDS = Path(__file__).resolve().parent.parent / "cards"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(CARDS, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_the_shipped_knowledge_base_loads(kb: KnowledgeBase) -> None:
    assert kb.version == "2.21.0"
    assert len(kb.content_hash) == 64
    assert "alp-high-confirm-origin" in kb.rules
    assert kb.units.to_units_per_litre(1.0, "ukat/L", None) == (60.0, "ukat/L")


def test_the_haemolysed_sample_words_are_loaded_from_the_knowledge_base(kb: KnowledgeBase) -> None:
    # Twenty-second round, part D: the words that flag a potassium's sample haemolysed (part L,
    # R37-41) are data, with their source, not a tuple in clinical/facts.py.
    words = kb.valuesets["haemolysed-sample"]
    assert words.text_marks == ("haemoly", "hemoly")
    assert {"not haemoly", "no hemoly", "non-haemoly", "free of hemoly"} <= set(
        words.text_mark_negations
    )
    assert words.citation in kb.citations
    assert words.verified is False
    # A list of words only: it never matches a condition, a drug or a result.
    assert (words.codes, words.names, words.word_names, words.result_names) == ((), (), (), ())
    assert words.marks("Sample HAEMOLYSED")
    assert words.marks("hemolyzed specimen")
    assert not words.marks("Not haemolysed")
    assert not words.marks("no hemolysis seen")
    assert not words.marks("lipaemic")


def test_analyte_units_convert_into_the_unit_their_thresholds_use(kb: KnowledgeBase) -> None:
    # Ninth round (v09): bile acids in mmol/L were not read. Units and factors are data.
    bile = kb.analyte_units["bile-acids"]
    assert bile.unit == "umol/L"
    assert bile.convert(0.11, "mmol/L", None) == pytest.approx(110)
    assert bile.convert(110, None, "\u00b5mol / L") == 110
    assert bile.convert(110, None, "uM") == 110
    assert bile.convert(110, None, None) is None  # no unit: not assumed
    assert bile.convert(8, None, "umol/dL") is None
    assert kb.analyte_units["platelets"].convert(92000, None, "/uL") == pytest.approx(92)
    assert kb.analyte_units["platelets"].convert(92, "10*3/uL", None) == 92
    assert kb.analyte_units["crp"].convert(2.6, "mg/dL", None) == pytest.approx(26)
    assert kb.analyte_units["ldh"].convert(10, "ukat/L", None) == 600


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "rules/alp-high-confirm-origin.yaml",
            "indicator: info",
            "indicator: urgent",
            r"rules/alp-high-confirm-origin.yaml: \$.card.indicator: 'urgent' is not one of",
        ),
        (
            "rules/alp-high-confirm-origin.yaml",
            "orderable: ggt",
            "orderable: gtt",
            r"unknown orderable 'gtt'",
        ),
        (
            "rules/alp-high-confirm-origin.yaml",
            "fact: ggt.status",
            "fact: ggt.colour",
            r"unknown fact 'ggt.colour'",
        ),
        (
            "rules/alp-high-confirm-origin.yaml",
            "{{param.ggt_lookback_days}} days before it\n",
            "{{param.ggt_window}} days before it\n",
            r"unknown parameter \{\{param.ggt_window\}\}",
        ),
        (
            "findings.yaml",
            "explains_below_xuln: fracture_explains_max_xuln",
            "explains_below_xuln: fracture_max",
            r"\$.findings.recent-fracture.explains_below_xuln: unknown parameter 'fracture_max'",
        ),
        (
            "findings.yaml",
            "{from: labs, valueset: zinc, status: low, within_days: measured_deficiency_days, "
            "edta_lowered: calcium, edta_unless: potassium-raising-drug, "
            "edta_unless_both: kidney-failure-electrolytes, "
            "separate_draw: true, edta_marker: potassium}",
            "{from: labs, valueset: zinc, within_days: measured_deficiency_days}",
            r"\$.findings.zinc-deficiency.sources\[1\]: `status` goes with, and only with",
        ),
        (
            "findings.yaml",
            "{from: labs, valueset: zinc, status: low, within_days: measured_deficiency_days, "
            "edta_lowered: calcium, edta_unless: potassium-raising-drug, "
            "edta_unless_both: kidney-failure-electrolytes, "
            "separate_draw: true, edta_marker: potassium}",
            "{from: labs, valueset: zinc, status: low}",
            r"\$.findings.zinc-deficiency.sources\[1\]: a lab source needs `within_days`",
        ),
        (
            "findings.yaml",
            # Ninth round: vitamin-d-deficiency's source now carries outweighed_by (a block of
            # its own), so these flag checks use another conditions-only source.
            "sources: [{from: conditions, valueset: bone-osteomalacia-rickets, confirmed: true}]",
            "sources: [{from: conditions, valueset: bone-osteomalacia-rickets, "
            "confirmed: true, status: low}]",
            r"\$.findings.osteomalacia-rickets.sources\[0\]: `status` goes with, and only with",
        ),
        (
            "findings.yaml",
            "sources: [{from: conditions, valueset: bone-osteomalacia-rickets, confirmed: true}]",
            "sources: [{from: conditions, valueset: bone-osteomalacia-rickets, "
            "started_before_rise: true}]",
            r"\$.findings.osteomalacia-rickets.sources\[0\]: `started_before_rise` is for "
            "medications only",
        ),
        (
            "findings.yaml",
            "sources: [{from: conditions, valueset: bone-osteomalacia-rickets, confirmed: true}]",
            "sources: [{from: conditions, valueset: bone-osteomalacia-rickets, "
            "separate_draw: true}]",
            r"\$.findings.osteomalacia-rickets.sources\[0\]: `separate_draw` is for labs only",
        ),
        (
            "rules/alp-high-confirm-origin.yaml",
            "      only_if: {fact: record.unavailable, has: labs, says: the earlier labs could "
            "not be had}\n",
            "",
            r"\$.card.finding: only the last variant, and it alone, has no only_if",
        ),
        (
            "rules/alp-high-confirm-origin.yaml",
            "citations: [bsg-2018",
            "citations: [bsg-2019",
            r"\$.citations\[0\]: unknown citation 'bsg-2019'",
        ),
        (
            "rules/alp-high-confirm-origin.yaml",
            "id: alp-high-confirm-origin",
            "id: other-id",
            r"must match the file name",
        ),
        (
            "valuesets/ggt.yaml",
            "verified: true",
            "verified: yes please",
            r"valuesets/ggt.yaml: \$.codes\[0\].verified: 'yes please' is not of type 'boolean'",
        ),
        (
            "intervals/alp.yaml",
            "low: 83, high: 248",
            "low: 300, high: 248",
            r"\$.rows\[0\]: low must be below high",
        ),
        (
            "parameters.yaml",
            "value: 30",
            "value: thirty",
            r"parameters.yaml: \$.parameters.ggt_lookback_days.value",
        ),
        (
            "orderables.yaml",
            "result_valuesets: [ggt, five-nucleotidase]",
            "result_valuesets: [ggt, nope]",
            r"unknown value set 'nope'",
        ),
        ("units.yaml", "factor: 60", "factor: 0", r"units.yaml: \$.units\[1\].factor"),
        (
            "findings.yaml",
            # The first ended_by in the file is biliary-stent-in-place's first source (its
            # sources became a list of lines in the tenth round).
            "ended_by: biliary-stent-removal}",
            "ended_by: nope}",
            r"biliary-stent-in-place.sources\[0\].ended_by: unknown value set .nope.",
        ),
        (
            "findings.yaml",
            "by: crp_falling_min_fraction",
            "by: nope",
            r"unless_falling\[0\].by: unknown parameter 'nope'",  # a list of tiers since round 10
        ),
        ("units.yaml", "  ldh:\n", "  nope:\n", r"units.yaml: \$.analytes.nope: unknown value set"),
        (
            "units.yaml",
            "    catalytic: true\n",
            "",
            r"units.yaml: \$.analytes.ldh: `units` is needed unless `catalytic` is true",
        ),
        (
            "valuesets/haemolysed-sample.yaml",
            "citation: ukka-hyperkalaemia-2023",
            "citation: ukka-hyperkalaemia-2099",
            r"haemolysed-sample\.yaml: \$\.citation: unknown citation 'ukka-hyperkalaemia-2099'",
        ),
        (
            "valuesets/haemolysed-sample.yaml",
            "verified: false\n",
            "",
            r"haemolysed-sample\.yaml: .*'verified' is a dependency of 'text_marks'",
        ),
        ("kb.yaml", "version: 2.21.0", "version: one", r"kb.yaml: \$.version"),
        ("kb.yaml", "name: alp-cds rulebook", "name: [unclosed", r"kb.yaml: not valid YAML"),
    ],
)
@pytest.mark.slow
def test_broken_files_are_reported_precisely(
    kb_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    edit(kb_copy / file, old, new)
    with pytest.raises(KnowledgeBaseError, match=message):
        loader.load(kb_copy, FACTS)


@pytest.mark.slow
def test_a_missing_file_is_reported(kb_copy: Path) -> None:
    (kb_copy / "orderables.yaml").unlink()
    with pytest.raises(KnowledgeBaseError, match=r"orderables\.yaml: missing"):
        loader.load(kb_copy, FACTS)


@pytest.mark.slow
def test_the_content_hash_changes_with_any_edit(kb_copy: Path) -> None:
    before = loader.load(kb_copy, FACTS).content_hash
    edit(kb_copy / "citations/guidelines.yaml", "Gut 2018;67:6-19.", "Gut 2018;67:6-19 ")
    assert loader.load(kb_copy, FACTS).content_hash != before


@pytest.mark.slow
def test_a_broken_knowledge_base_stops_the_app(
    kb_copy: Path, make_app: Callable[..., Flask]
) -> None:
    edit(kb_copy / "rules/alp-high-confirm-origin.yaml", "status: active", "status: maybe")
    with pytest.raises(KnowledgeBaseError, match=r"alp-high-confirm-origin\.yaml"):
        make_app(kb_dir=kb_copy)


def test_icd10_codes_match_with_and_without_the_dot_and_by_prefix() -> None:
    from cds_service.knowledge.model import Code, ValueSet

    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    valueset = ValueSet(
        "liver",
        "t",
        "p",
        (
            Code(icd, "K74.3", "PBC", None, True),
            Code(icd, "K80", "Cholelithiasis", None, True, prefix=True),
        ),
    )
    assert valueset.match_coding(icd, "K743")
    assert valueset.match_coding(icd, "k74.3")
    assert valueset.match_coding(icd, "K80.50")
    assert valueset.match_coding(icd, "K81.0") is None
    assert valueset.match_coding("http://snomed.info/sct", "K74.3") is None


@pytest.mark.parametrize("code", ["M88", "M88.0", "M88.89", "M90.6", "M90.61"])
def test_a_prefix_code_matches_itself_and_its_children(kb: KnowledgeBase, code: str) -> None:
    concept = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}
    assert "bone-paget" in kb.classify(concept)


def test_a_prefix_code_does_not_match_its_siblings(kb: KnowledgeBase) -> None:
    concept = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M89.9"}]}
    assert "bone-paget" not in kb.classify(concept)


def test_a_same_as_pair_must_be_in_the_units_it_names(kb_copy: Path) -> None:
    """Code review 17, F12: the 1% check converts `unit` into the table's unit, so it proves
    nothing when the parameter is not in `unit` (or the other parameter not in the table's):
    a calcium threshold relabelled mg/dL would have passed with the mmol/L factor."""
    parameters = kb_copy / "parameters.yaml"
    edit(parameters, "    unit: mmol/L (total calcium)\n", "    unit: mg/dL (total calcium)\n")
    with pytest.raises(KnowledgeBaseError, match=r"calcium_severe_mmol_l is in 'mg/dL"):
        loader.load(kb_copy, FACTS)


def test_the_other_parameter_of_a_same_as_pair_must_be_in_the_tables_unit(kb_copy: Path) -> None:
    edit(
        kb_copy / "parameters.yaml",
        "    unit: mg/dL (total calcium; 3.0 mmol/L is 12.0 mg/dL)\n",
        "    unit: mmol/L (total calcium)\n",
    )
    with pytest.raises(KnowledgeBaseError, match=r"calcium_severe_mg_dl is in 'mmol/L"):
        loader.load(kb_copy, FACTS)
