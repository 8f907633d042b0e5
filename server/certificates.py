"""Certificate PDFs (reportlab): what a certificate says, and its rendering.

A certificate states the claimed credit (never the designated maximum), the activity as a live
activity with its dates and location, the provider's accreditation statement and the designation
statement of the credit type, and a verification code that ``/verify/{code}`` confirms.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

__all__ = ["TITLES", "CertificateText", "render_certificate"]

# What the certificate calls each credit type (the AMA's wording for its credit is mandated).
TITLES = {
    "ama_pra_1": ("Certificate of Credit", "AMA PRA Category 1 Credits™"),
    "ancc": ("Certificate of Completion", "ANCC nursing contact hours"),
    "acpe": ("Statement of Credit", "ACPE contact hours"),
    "participation": ("Certificate of Participation", "hours of participation"),
}

_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)


@dataclass(frozen=True, slots=True)
class CertificateText:
    """Everything printed on one certificate."""

    holder: str
    provider: str
    activity: str
    dates: str
    location: str
    credit_type: str
    amount: Decimal
    accreditation_statement: str
    designation_statement: str
    code: str
    verify_url: str
    issued: str


def _fonts() -> tuple[str, str]:
    """A Unicode TrueType font when the system has one (names in any script), else Helvetica."""
    regular, bold = _FONT_CANDIDATES
    if regular.is_file() and bold.is_file():
        if "RoundsSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("RoundsSans", str(regular)))
            pdfmetrics.registerFont(TTFont("RoundsSans-Bold", str(bold)))
        return "RoundsSans", "RoundsSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def render_certificate(cert: CertificateText) -> bytes:
    """The certificate as a one-page landscape PDF."""
    regular, bold = _fonts()
    title, unit = TITLES.get(cert.credit_type, ("Certificate", cert.credit_type))

    def style(name: str, size: float, font: str = regular, space: float = 6, color: object = colors.black
              ) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.3, alignment=TA_CENTER,
                              spaceAfter=space, textColor=color)

    small = style("small", 9, space=4, color=colors.HexColor("#333333"))
    # Paragraph reads a little XML: every value is escaped so a name cannot inject markup.
    story = [
        Paragraph(escape(cert.provider), style("provider", 13, bold)),
        Paragraph(escape(title), style("title", 26, bold, space=14)),
        Paragraph("This certifies that", style("lead", 11)),
        Paragraph(escape(cert.holder), style("holder", 22, bold, space=10)),
        Paragraph("participated in the live activity", style("lead2", 11)),
        Paragraph(escape(cert.activity), style("activity", 15, bold, space=4)),
        Paragraph(f"{escape(cert.dates)} · {escape(cert.location)}", style("when", 11, space=12)),
        Paragraph(f"and claimed <b>{escape(str(cert.amount))} {escape(unit)}</b>.",
                  style("amount", 14, space=14)),
        Paragraph(escape(cert.accreditation_statement), small),
        Paragraph(escape(cert.designation_statement), small),
        Spacer(1, 0.15 * inch),
        Paragraph(f"Verification code: <b>{escape(cert.code)}</b> · verify at {escape(cert.verify_url)}",
                  style("code", 10)),
        Paragraph(f"Issued {escape(cert.issued)}", style("issued", 9)),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(letter), leftMargin=0.8 * inch, rightMargin=0.8 * inch,
                            topMargin=0.6 * inch, bottomMargin=0.5 * inch,
                            title=f"{title}: {cert.activity}", author=cert.provider, subject=cert.code)
    doc.build(story)
    return out.getvalue()
