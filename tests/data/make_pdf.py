"""Write small text PDFs for the ingest tests (no PDF library needed to make them).

    python tests/data/make_pdf.py

Each page is lines of Helvetica text; the document info can carry a title. The files it
writes are committed under tests/data/articles/; run it again only to change them.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent / "articles"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(
    pages: list[list[str]],
    *,
    title: str | None = None,
    headline: str | None = None,
    header: str | None = None,
    ligatures: bool = False,
) -> bytes:
    """Pages of 11-point lines; ``headline`` in 20-point type atop page 1, ``header`` and a
    "Page N" footer on every page, ``title`` in the document info. With ``ligatures``,
    "fi" and "fl" are set as the fonts' single ligature glyphs, as typesetters do, so a
    PDF reader extracts "ﬁ" and "ﬂ"."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled once the page tree's number is known
    tree = add(b"")
    encoding = (
        b"<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [1 /fi /fl] >>"
        if ligatures
        else b"/WinAnsiEncoding"
    )
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding %s >>" % encoding)
    kids = []
    for number, lines in enumerate(pages, 1):
        stream = ""
        if header:
            stream += f"BT /F1 9 Tf 72 780 Td ({_escape(header)}) Tj ET\n"
            stream += f"BT /F1 9 Tf 72 40 Td (Page {number}) Tj ET\n"
        top = 750
        if headline and number == 1:
            stream += f"BT /F1 20 Tf 72 {top} Td ({_escape(headline)}) Tj ET\n"
            top -= 30
        stream += f"BT /F1 11 Tf 14 TL 72 {top} Td\n"
        stream += "".join(f"({_escape(line)}) Tj T*\n" for line in lines) + "ET"
        if ligatures:
            stream = stream.replace("fi", "\x01").replace("fl", "\x02")
        data = stream.encode("cp1252")
        content = add(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = add(b"<< /Title (%s) >>" % _escape(title).encode("cp1252")) if title else None
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


REPORT = [
    [
        "Pune, 14 February 2022 - Acme Mobiles said on Monday that it will open a",
        "second factory in the city, its first outside Noida.",
        "",
        "The plant will employ about 1,200 people and make 8 million handsets a year,",
        "the company's India head, Meera Kulkarni, told reporters.",
    ],
    [
        "Production is expected to start in the third quarter of 2022.",
        "Acme did not say how much the factory would cost.",
    ],
]


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / "acme-factory.pdf").write_bytes(
        make_pdf(REPORT, title="Acme Mobiles to open a second factory in Pune")
    )
    # No document title, a newsletter header and page numbers: the layout gives the title.
    (HERE / "acme-newsletter.pdf").write_bytes(
        make_pdf(
            [["Published: 2 May 2022", *REPORT[0][3:]], REPORT[1]],
            headline="Acme picks Pune for its second plant",
            header="Handset Industry Weekly",
        )
    )
    print(f"wrote {HERE}/acme-factory.pdf, acme-newsletter.pdf")


if __name__ == "__main__":
    main()
