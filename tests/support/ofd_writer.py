"""OFD (GB/T 33190) files written by the tests themselves: a 公文 over three pages and an
e-invoice, so no binary fixture is committed.

``write_ofd`` lays the package out the way OFD producers do: ``OFD.xml`` → ``Doc_0/
Document.xml`` → ``Pages/Page_N/Content.xml``, one ``TextObject`` per run with its
``Boundary`` origin near the glyphs and the ``TextCode`` position relative to it, glyph
advances in ``DeltaX`` (``g N v`` when uniform), spaces as wider advances instead of space
glyphs, and each page's objects written in reverse, so a parser that trusts the XML order
reads the page backwards. ``Sheet`` lays text out like GB/T 9704: A4, text 156 mm wide from
28 mm, 3号 body (5.6 mm), lines 10 mm apart, paragraphs indented two characters and wrapped,
each line drawn as two runs.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = "http://www.ofdspec.org/2016"
INVOICE_NS = "http://www.edrm.org.cn/schema/e-invoice/2019"
BODY = 5.6  # 3号 in mm
LEFT, WIDTH = 28.0, 156.0
RED = "255 0 0"


def _wide(char: str) -> bool:
    return "\u2e80" <= char <= "\uffef" and not ("\uff61" <= char <= "\uffdc")


def advances(text: str, size: float, pitch: float | None = None) -> list[float]:
    """Each glyph's advance: ``pitch`` (or the size) for CJK, half the size otherwise."""
    return [(pitch or size) if _wide(c) else size / 2 for c in text]


@dataclass(frozen=True)
class TextRun:
    """Text drawn from baseline ``(x, y)`` (mm); ``tag`` names it in the custom tags."""

    x: float
    y: float
    text: str
    size: float = BODY
    color: str | None = None
    pitch: float | None = None
    tag: str | None = None


@dataclass
class Sheet:
    """One page laid out top to bottom like a 公文."""

    y: float = 37.0
    runs: list[TextRun] = field(default_factory=list)

    def line(
        self,
        text: str,
        *,
        size: float = BODY,
        x: float = LEFT,
        align: str = "left",
        color: str | None = None,
        pitch: float | None = None,
        advance: float = 10.0,
    ) -> None:
        width = sum(advances(text, size, pitch))
        if align == "center":
            x = LEFT + (WIDTH - width) / 2
        elif align == "right":
            x = LEFT + WIDTH - width - 2 * BODY
        baseline = self.y + size
        split = len(text) // 2 + (text[len(text) // 2 : len(text) // 2 + 1] == " ")
        offset = sum(advances(text[:split], size, pitch))
        for start, part in ((x, text[:split]), (x + offset, text[split:])):
            if part.strip():
                self.runs.append(TextRun(start, baseline, part, size, color, pitch))
        self.y += max(advance, size * 1.5)

    def paragraph(self, text: str, *, indent: int = 2) -> None:
        """Wrap ``text`` to the text width, the first line indented ``indent`` characters."""
        lines, current, width = [], "", indent * BODY
        for char, step in zip(text, advances(text, BODY), strict=True):
            if width + step > WIDTH + 0.01:
                lines.append(current)
                current, width = "", 0.0
            current += char
            width += step
        lines.append(current)
        for number, line in enumerate(lines):
            self.line(line, x=LEFT + (indent * BODY if number == 0 else 0.0))

    def row(self, cells: list[str], columns: list[float]) -> None:
        baseline = self.y + BODY
        for cell, x in zip(cells, columns, strict=True):
            self.runs.append(TextRun(LEFT + x, baseline, cell))
        self.y += 10.0

    def footer(self, number: int) -> None:
        text = f"— {number} —"
        width = sum(advances(text, BODY))
        self.runs.append(TextRun(LEFT + (WIDTH - width) / 2, 275.0, text))


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _text_object(run: TextRun, object_id: int) -> str:
    """A ``TextObject`` whose Boundary starts half a size left and one size above the
    baseline; spaces become wider advances of the glyph before them."""
    glyphs: list[str] = []
    deltas: list[float] = []
    for char, step in zip(run.text, advances(run.text, run.size, run.pitch), strict=True):
        if char == " " and glyphs:
            deltas[-1] += step
        elif char != " ":
            glyphs.append(char)
            deltas.append(step)
    deltas = deltas[:-1]
    if deltas and all(d == deltas[0] for d in deltas):
        delta_x = f"g {len(deltas)} {_number(deltas[0])}"
    else:
        delta_x = " ".join(_number(d) for d in deltas)
    left, top = run.x - run.size / 2, run.y - run.size
    color = f'<ofd:FillColor Value="{run.color}"/>' if run.color else ""
    delta = f" DeltaX={quoteattr(delta_x)}" if deltas else ""
    return (
        f'<ofd:TextObject ID="{object_id}" Boundary="{_number(left)} {_number(top)} '
        f'{_number(WIDTH)} {_number(run.size * 1.5)}" Font="3" Size="{_number(run.size)}">'
        f'{color}<ofd:TextCode X="{_number(run.size / 2)}" Y="{_number(run.size)}"{delta}>'
        f"{escape(''.join(glyphs))}</ofd:TextCode></ofd:TextObject>"
    )


@dataclass
class OfdSpec:
    """What ``write_ofd`` packages: pages of runs, a template page drawn under every page,
    ``DocInfo`` custom data, and XML attachments by file name."""

    pages: list[list[TextRun]]
    template: list[TextRun] = field(default_factory=list)
    custom_datas: dict[str, str] = field(default_factory=dict)
    attachments: dict[str, str] = field(default_factory=dict)


def write_ofd(spec: OfdSpec) -> bytes:
    files: dict[str, str] = {}
    next_id = 10
    tags: list[str] = []

    def layer(runs: list[TextRun], page_id: int) -> str:
        nonlocal next_id
        objects = []
        for run in runs:
            next_id += 1
            objects.append(_text_object(run, next_id))
            if run.tag:
                tags.append(
                    f'<fp:{run.tag}><ofd:ObjectRef PageRef="{page_id}">{next_id}'
                    f"</ofd:ObjectRef></fp:{run.tag}>"
                )
        body = "".join(reversed(objects))
        return f'<ofd:Content><ofd:Layer ID="{page_id + 1000}">{body}</ofd:Layer></ofd:Content>'

    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    template_ref = ""
    template_decl = ""
    if spec.template:
        files["Doc_0/Tpls/Tpl_0/Content.xml"] = (
            f'{head}<ofd:Page xmlns:ofd="{NS}">{layer(spec.template, 1)}</ofd:Page>'
        )
        template_decl = '<ofd:TemplatePage ID="2" BaseLoc="Tpls/Tpl_0/Content.xml"/>'
        template_ref = '<ofd:Template TemplateID="2" ZOrder="Background"/>'
    page_refs = []
    for index, runs in enumerate(spec.pages):
        page_id = 100 + index
        page_refs.append(f'<ofd:Page ID="{page_id}" BaseLoc="Pages/Page_{index}/Content.xml"/>')
        files[f"Doc_0/Pages/Page_{index}/Content.xml"] = (
            f'{head}<ofd:Page xmlns:ofd="{NS}">{template_ref}{layer(runs, page_id)}</ofd:Page>'
        )
    extras = ""
    if tags:
        extras += "<ofd:CustomTags>Tags/CustomTags.xml</ofd:CustomTags>"
        files["Doc_0/Tags/CustomTags.xml"] = (
            f'{head}<ofd:CustomTags xmlns:ofd="{NS}"><ofd:CustomTag NameSpace="{INVOICE_NS}">'
            "<ofd:FileLoc>CustomTag.xml</ofd:FileLoc></ofd:CustomTag></ofd:CustomTags>"
        )
        files["Doc_0/Tags/CustomTag.xml"] = (
            f'{head}<fp:eInvoice xmlns:ofd="{NS}" xmlns:fp="{INVOICE_NS}">'
            f"{''.join(tags)}</fp:eInvoice>"
        )
    if spec.attachments:
        extras += "<ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments>"
        entries = "".join(
            f'<ofd:Attachment ID="a{n}" Name={quoteattr(name.rsplit(".", 1)[0])} Format="xml">'
            f"<ofd:FileLoc>{escape(name)}</ofd:FileLoc></ofd:Attachment>"
            for n, name in enumerate(spec.attachments)
        )
        files["Doc_0/Attachs/Attachments.xml"] = (
            f'{head}<ofd:Attachments xmlns:ofd="{NS}">{entries}</ofd:Attachments>'
        )
        for name, xml in spec.attachments.items():
            files[f"Doc_0/Attachs/{name}"] = xml
    files["Doc_0/Document.xml"] = (
        f'{head}<ofd:Document xmlns:ofd="{NS}"><ofd:CommonData>'
        f"<ofd:MaxUnitID>{next_id}</ofd:MaxUnitID>"
        "<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
        f"{template_decl}</ofd:CommonData><ofd:Pages>{''.join(page_refs)}</ofd:Pages>"
        f"{extras}</ofd:Document>"
    )
    datas = "".join(
        f"<ofd:CustomData Name={quoteattr(k)}>{escape(v)}</ofd:CustomData>"
        for k, v in spec.custom_datas.items()
    )
    files["OFD.xml"] = (
        f'{head}<ofd:OFD xmlns:ofd="{NS}" Version="1.0" DocType="OFD"><ofd:DocBody>'
        f"<ofd:DocInfo><ofd:DocID>0c5e8a5f3b2d4e6f8a9b0c1d2e3f4a5b</ofd:DocID>"
        f"<ofd:CustomDatas>{datas}</ofd:CustomDatas></ofd:DocInfo>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", files.pop("OFD.xml"))
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def notice_spec() -> OfdSpec:
    """A 通知 of a city government office: red header, title, three headings, numbered
    paragraphs, a table of tasks, a signature and a date, over three pages."""
    one, two, three = Sheet(), Sheet(), Sheet()
    one.line("滨江市人民政府办公室文件", size=12.0, pitch=13.0, align="center", color=RED)
    one.line("滨政办发〔2024〕12号", align="center", advance=16.0)
    one.line("滨江市人民政府办公室关于做好2024年", size=7.7, align="center", advance=11.5)
    one.line("城市更新工作的通知", size=7.7, align="center", advance=16.0)
    one.line("各区人民政府，市政府各部门：")
    one.paragraph(
        "为贯彻落实省委、省政府关于实施城市更新行动的决策部署，加快推进老旧小区改造和"
        "城中村整治，经市政府同意，现就做好2024年城市更新工作通知如下。"
    )
    one.line("一、总体要求", x=LEFT + 2 * BODY)
    one.paragraph(
        "坚持以人民为中心的发展思想，统筹发展和安全，全年完成老旧小区改造120个，惠及居民3.6万户。"
    )
    one.footer(1)
    two.line("二、重点任务", x=LEFT + 2 * BODY)
    two.paragraph("1.加快老旧小区改造。各区要在3月底前完成项目摸底，6月底前全部开工。")
    two.paragraph("2.推进城中村整治。重点整治消防通道、违章搭建和电动自行车充电设施。")
    columns = [0.0, 24.0, 72.0, 118.0]
    two.row(["序号", "任务", "责任单位", "完成时限"], columns)
    two.row(["1", "老旧小区改造", "市住建局", "2024年6月"], columns)
    two.row(["2", "城中村整治", "各区人民政府", "2024年10月"], columns)
    two.footer(2)
    three.line("三、工作要求", x=LEFT + 2 * BODY)
    three.paragraph("各单位每月5日前通过 Smart City Platform 报送进展，市住建局负责汇总并通报。")
    three.line("滨江市人民政府办公室", align="right")
    three.line("2024年3月1日", align="right")
    three.footer(3)
    return OfdSpec([one.runs, two.runs, three.runs])


def notice_ofd() -> bytes:
    return write_ofd(notice_spec())


INVOICE_NUMBER = "24332000000012345678"
BUYER = "滨江市财政局"
SELLER = "杭州云图信息技术有限公司"
TOTAL = "10000.00"
ORIGINAL_INVOICE = f"""<?xml version="1.0" encoding="UTF-8"?>
<EInvoice><Header><EIid>{INVOICE_NUMBER}</EIid><InherentLabel><EInvoiceType>
<LabelName>普通发票</LabelName></EInvoiceType></InherentLabel></Header>
<EInvoiceData><SellerInformation><SellerName>{SELLER}</SellerName></SellerInformation>
<BuyerInformation><BuyerName>{BUYER}</BuyerName>
<BuyerIdNum>11330100MB0123456X</BuyerIdNum></BuyerInformation>
<BasicInformation><TotalAmWithoutTax>9433.96</TotalAmWithoutTax><TotalTaxAm>566.04</TotalTaxAm>
<TotalTax-includedAmount>{TOTAL}</TotalTax-includedAmount></BasicInformation></EInvoiceData>
</EInvoice>"""


def invoice_spec() -> OfdSpec:
    """A one-page 电子发票（普通发票）: the labels on the template page, the values on the
    page (tagged), the key fields in ``CustomDatas`` and the original XML attached."""
    size = 3.5
    label, value = 20.0, 20.0 + 3 * size
    template = [
        TextRun(66.0, 18.0, "电子发票（普通发票）", 7.0, "128 0 0"),
        TextRun(140.0, 26.0, "发票号码：", size),
        TextRun(label, 45.0, "名称：", size),
        TextRun(110.0, 45.0, "名称：", size),
        TextRun(label, 90.0, "价税合计（大写）", size),
    ]
    page = [
        TextRun(140.0 + 5 * size, 26.0, INVOICE_NUMBER, size, tag="InvoiceNo"),
        TextRun(value, 45.0, BUYER, size, tag="BuyerName"),
        TextRun(110.0 + 3 * size, 45.0, SELLER, size, tag="SellerName"),
        TextRun(label, 60.0, "项目名称", size),
        TextRun(90.0, 60.0, "金额", size),
        TextRun(130.0, 60.0, "税额", size),
        TextRun(label, 68.0, "*信息技术服务*软件维护费", size),
        TextRun(90.0, 68.0, "9433.96", size),
        TextRun(130.0, 68.0, "566.04", size),
        TextRun(90.0, 90.0, "壹万圆整", size),
        TextRun(130.0, 90.0, f"（小写）¥{TOTAL}", size, tag="TaxInclusiveTotalAmount"),
    ]
    return OfdSpec(
        [page],
        template=template,
        custom_datas={"发票号码": INVOICE_NUMBER, "开票日期": "2024年03月15日"},
        attachments={"original_invoice.xml": ORIGINAL_INVOICE},
    )


def invoice_ofd() -> bytes:
    return write_ofd(invoice_spec())


def replace_members(data: bytes, changes: dict[str, bytes | None]) -> bytes:
    """The package ``data`` with members replaced, added, or (``None``) left out: how the
    tests make damaged and hostile OFD files from good ones."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            if name not in changes:
                target.writestr(name, source.read(name))
        for name, content in changes.items():
            if content is not None:
                target.writestr(name, content)
    return buffer.getvalue()
