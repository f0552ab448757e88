"""Golden files: every shipped template in every shipped language, rendered for the sample
debtor of the language (``arrears.channels.samples``: the template, then the law's notices of
the debtor's contact-rule pack, as the dispatcher adds them) is compared with
``tests/golden/templates/<lang>/<name>.txt``: the subject, the text, the email's HTML, and for a
letter the text of its PDF (pypdf); ``statement.txt`` is the statement of account attached to
dunning emails. The English and Spanish pre-legal letter and statement are also compared as
images: their first page rasterised by pdftoppm (poppler-utils) at 50 dpi, ``<name>.p1.png``,
within a tolerance for anti-aliasing (:func:`differing`). A change of wording or layout shows
as a diff of those files in review. Refresh them, then read the diff (and look at the PNGs):

    ARREARS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_template_golden.py
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader

from arrears.channels.samples import (
    channel_of,
    sample_message,
    sample_pdf,
    sample_settings,
    sample_statement,
)
from arrears.channels.templates import (
    LANGUAGES,
    SAMPLE_DAY,
    render,
    sample_debtor,
    sample_variables,
    shipped_root,
    template_names,
)

GOLDEN = Path(__file__).parent / "golden" / "templates"
ROOT = shipped_root()
assert ROOT is not None
NAMES = template_names([ROOT])
#: the golden letters' creditor, with its logo
SETTINGS = sample_settings(ROOT, GOLDEN / "logo.png")
UPDATE = bool(os.environ.get("ARREARS_UPDATE_GOLDEN"))


def _pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def rendered(name: str, lang: str) -> str:
    """What template ``name`` says in ``lang`` to the sample debtor, as the golden file holds
    it."""
    assert ROOT is not None
    channel = channel_of(name)
    debtor, country, _ = sample_debtor(lang)
    sample = sample_message([ROOT], name, lang)
    out, message = sample.rendered, sample.message
    assert out.language == lang  # no shipped template falls back
    parts = [f"# {out.template} ({channel}), {debtor}, {country}, {SAMPLE_DAY.isoformat()}"]
    if channel in ("email", "letter"):
        parts += [f"subject: {message.subject}"]
    parts += ["--- text ---", message.text]
    if channel == "email":
        parts += ["--- html ---", message.html or ""]
    if channel == "letter":
        parts += ["--- letter PDF (text) ---", *_pdf_text(sample_pdf(message, SETTINGS))]
    return "\n".join(parts) + "\n"


def statement(lang: str) -> str:
    """The statement of account of the sample debtor, as its golden file holds it."""
    debtor, country, _ = sample_debtor(lang)
    pdf = sample_pdf(sample_statement(lang), SETTINGS)
    head = f"# statement of account (email attachment), {debtor}, {country}, {SAMPLE_DAY}"
    return "\n".join([head, "--- statement PDF (text) ---", *_pdf_text(pdf)]) + "\n"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_shipped_template_reads_as_its_golden_file(lang: str) -> None:
    update = UPDATE
    folder = GOLDEN / lang
    if update:
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {folder / f"{n}.txt" for n in [*NAMES, "statement"]}
        for stale in set(folder.glob("*.txt")) - wanted:
            stale.unlink()
    differ = []
    for name in [*NAMES, "statement"]:
        path = folder / f"{name}.txt"
        text = statement(lang) if name == "statement" else rendered(name, lang)
        if update:
            path.write_text(text, encoding="utf-8")
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            differ.append(name)
    assert not differ, f"{lang}: {differ} differ from {folder} (ARREARS_UPDATE_GOLDEN=1: refresh)"
    # none stale, none missing
    assert sorted(p.stem for p in folder.glob("*.txt")) == sorted([*NAMES, "statement"])


def test_every_shipped_template_is_in_every_shipped_language() -> None:
    assert ROOT is not None
    for lang in LANGUAGES:
        assert sorted(p.stem for p in (ROOT / lang).glob("[!_]*.j2")) == NAMES, lang
        assert (ROOT / lang / "_layout.html").is_file()


#: the final notice's sentence that cites earlier contacts, per language
EARLIER = {
    "en": "Despite our earlier reminders",
    "es": "Pese a nuestros recordatorios anteriores",
    "pt": "Apesar dos nossos lembretes anteriores",
    "fr": "Malgré nos précédentes relances",
    "de": "Trotz unserer bisherigen Mahnungen",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_final_notice_cites_earlier_reminders_only_after_an_earlier_contact(
    lang: str,
) -> None:
    assert ROOT is not None
    _, country, _ = sample_debtor(lang)
    for name in ("notice_final",):
        first = sample_variables(lang, "letter") | {"earlier_contacts": 0}
        again = sample_variables(lang, "letter") | {"earlier_contacts": 1}
        assert EARLIER[lang] not in render([ROOT], name, lang, country, first).text
        assert EARLIER[lang] in render([ROOT], name, lang, country, again).text


#: The documents compared as images: (language, golden file's stem). Few and small (50 dpi,
#: grey): the text golden files show the wording, these the layout.
IMAGES = [
    ("en", "pre_legal_notice"),
    ("es", "pre_legal_notice"),
    ("en", "statement"),
    ("es", "statement"),
]
DPI = 50
#: A pixel differs when its grey level, on the page halved (box filter: a glyph's anti-aliased
#: edge moved by a pixel averages out), differs by more than this.
LEVEL = 48
#: The share of differing pixels a page may have. The same page drawn with glyphs placed a
#: fraction of a pixel differently (at 51 dpi, scaled back) differs by about 0.17 %; a missing
#: logo by 0.5 %, a moved or missing block by far more. A changed word or amount (0.005-0.1 %)
#: is the text golden files' to show.
SHARE = 0.0025


def page_one(pdf: bytes, dpi: int = DPI) -> Image.Image:
    """The first page of ``pdf`` in grey at ``dpi``, as pdftoppm draws it."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", "1", "-l", "1",
             "-singlefile", str(source), str(Path(folder) / "page")],
            check=True, capture_output=True,
        )  # fmt: skip
        with Image.open(Path(folder) / "page.png") as image:
            return image.convert("L")


def differing(a: Image.Image, b: Image.Image) -> float:
    """The share of pixels that differ between two pages (1.0 if their sizes differ)."""
    if a.size != b.size:
        return 1.0
    half = (a.width // 2, a.height // 2)
    small = [x.resize(half, Image.Resampling.BOX) for x in (a, b)]
    diff = ImageChops.difference(*small).point(lambda v: 255 if v > LEVEL else 0)
    return sum(diff.histogram()[255:]) / (half[0] * half[1])


def document(lang: str, stem: str) -> bytes:
    if stem == "statement":
        return sample_pdf(sample_statement(lang), SETTINGS)
    assert ROOT is not None
    return sample_pdf(sample_message([ROOT], stem, lang).message, SETTINGS)


@pytest.fixture(scope="module")
def pdftoppm() -> None:
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: apt-get install poppler-utils (.ci/run does)")
        pytest.skip("pdftoppm (Debian: poppler-utils) is not installed")


@pytest.mark.parametrize(("lang", "stem"), IMAGES)
@pytest.mark.usefixtures("pdftoppm")
def test_letters_and_statements_look_as_their_golden_images(lang: str, stem: str) -> None:
    path = GOLDEN / lang / f"{stem}.p1.png"
    page = page_one(document(lang, stem))
    if UPDATE:
        page.save(path, optimize=True)
    assert path.is_file(), f"{path} missing (ARREARS_UPDATE_GOLDEN=1: make it)"
    with Image.open(path) as golden:
        share = differing(page, golden.convert("L"))
    assert share <= SHARE, (
        f"{path}: {share:.3%} of the page differs (ARREARS_UPDATE_GOLDEN=1: refresh, then look)"
    )


@pytest.mark.usefixtures("pdftoppm")
def test_the_image_comparison_sees_a_missing_logo_but_not_anti_aliasing() -> None:
    """:func:`differing` itself: the letter drawn with its glyphs a fraction of a pixel
    elsewhere (rasterised at 51 dpi and scaled back) passes; without its logo it does not."""
    pdf = document("es", "pre_legal_notice")
    page = page_one(pdf)
    shifted = page_one(pdf, DPI + 1).resize(page.size, Image.Resampling.BILINEAR)
    assert differing(page, shifted) <= SHARE
    bare = sample_settings(SETTINGS.root)
    assert ROOT is not None
    plain = sample_pdf(sample_message([ROOT], "pre_legal_notice", "es").message, bare)
    assert differing(page, page_one(plain)) > SHARE


@pytest.mark.parametrize("lang", LANGUAGES)
def test_letters_leave_the_debtor_to_the_address_block_and_emails_name_it(lang: str) -> None:
    assert ROOT is not None
    debtor, country, _ = sample_debtor(lang)
    for name in NAMES:
        text = render([ROOT], name, lang, country, sample_variables(lang, channel_of(name))).text
        first_line = text.strip().splitlines()[0]
        if channel_of(name) == "letter":
            assert not first_line.endswith(f": {debtor}"), (name, first_line)
        elif channel_of(name) == "email":
            assert first_line.endswith(f": {debtor}"), (name, first_line)
