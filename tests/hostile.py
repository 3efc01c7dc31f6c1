"""The corpus of hostile and broken inputs, generated here (no binary blobs in the repo).

``FILES`` maps a case name to (file name, bytes builder, expectation): ("ok", check) where
check(OrderData) returns True, or ("error", exception class, regex on its message).
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data import FormatError, ReadError
from recsys.data.readers import LimitError

HDR = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = ("1001,A1,MUG,2,2024-01-01 10:00:00,3.0,17850,UK\n"
        "1002,A2,BOWL,1,2024-01-02 10:00:00,2.0,17851,UK\n"
        "1003,A1,MUG,1,2024-01-03 10:00:00,3.0,17852,UK\n")
GOOD = HDR + ROWS


def lines(n: int) -> str:
    return HDR + "".join(f"{1000 + i},A{i % 7},THING {i % 7},1,2024-01-{1 + i % 27:02d} 10:00:00,"
                         f"1.5,{17000 + i % 50},UK\n" for i in range(n))


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text)


def zipped(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def xlsx(rows: list[list], extra: Callable | None = None, sheets: int = 1) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    for s in range(sheets):
        ws = wb.active if s == 0 else wb.create_sheet(f"S{s}")
        for r in rows:
            ws.append(r)
        if extra:
            extra(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XROWS = [["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"],
         [1001, "A1", "MUG", 2, pd.Timestamp("2024-01-01 10:00").to_pydatetime(), 3.0, 17850,
          "UK"],
         [1002, "A2", "BOWL", 1, pd.Timestamp("2024-01-02 10:00").to_pydatetime(), 2.0, 17851,
          "UK"]]


def xlsx_with_sheet_xml(xml: str) -> bytes:
    """A valid workbook whose first sheet's XML is replaced (entity tricks and the like)."""
    src = zipfile.ZipFile(io.BytesIO(xlsx(XROWS)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = xml.encode()
            out.writestr(item, data)
    return buf.getvalue()


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                    for i in range(1, 10))
          + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
            '</sheetData></worksheet>')
XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
       '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
       '</sheetData></worksheet>')


def parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


PQ = pd.DataFrame({"customer_id": ["a", "b", "a"], "product_id": ["p1", "p2", "p2"],
                   "order_date": ["2024-01-01", "2024-01-02", "2024-01-03"]})
SHOPIFY_HDR = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Created at,"
               "Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,"
               "Phone,Shipping Street,Shipping Province,Shipping Country,Currency,Vendor\n")


def ok(check: Callable = lambda d: True):
    return ("ok", check)


def err(kind: type, pattern: str):
    return ("error", kind, pattern)


def n_lines(n: int) -> Callable:
    return lambda d: len(d.interactions) == n


def _random(n: int) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


FILES: dict[str, tuple[str, Callable[[], bytes], tuple]] = {
    # ---- not a table at all
    "empty": ("e.csv", lambda: b"", err(ReadError, "empty")),
    "whitespace": ("w.csv", lambda: b"  \n\n \t\n", err(ReadError, "empty")),
    "header only": ("h.csv", lambda: HDR.encode(), err(FormatError, "No order lines")),
    "random bytes": ("r.csv", lambda: _random(5000), err(ReadError, "binary")),
    "png as csv": ("p.csv", lambda: b"\x89PNG\r\n\x1a\n" + _random(2000),
                   err(ReadError, "PNG image")),
    "pdf as csv": ("d.csv", lambda: b"%PDF-1.4\n" + _random(2000), err(ReadError, "PDF")),
    "jpeg as csv": ("j.csv", lambda: b"\xff\xd8\xff\xe0" + _random(2000), err(ReadError, "JPEG")),
    "old xls": ("o.xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + _random(2000),
                err(ReadError, "xls")),
    "nul bytes in text": ("n.csv", lambda: GOOD.encode().replace(b",", b"\x00,"),
                          err(ReadError, "binary")),
    "three stray nul bytes": ("n3.csv", lambda: GOOD.encode().replace(b"MUG", b"M\x00UG", 1)
                              .replace(b"BOWL", b"BO\x00\x00WL"),
                              ok(lambda d: len(d.interactions) == 3
                                 and {"MUG", "BOWL"} <= set(d.products["name"])
                                 and "3 NUL bytes" in " ".join(d.report.warnings))),
    # ---- broken CSV
    "1 MB field": ("f.csv", lambda: (HDR + '1,A1,"' + "x" * 1_000_000 + '",1,2024-01-01,1,2,'
                                     'UK\n').encode(), ok(n_lines(1))),
    "20 MB field": ("f20.csv", lambda: (HDR + '1,A1,"' + "x" * 20_000_000 + '",1,2024-01-01,1,'
                                        '2,UK\n').encode(), err(LimitError, "is 19 MB")),
    "ragged rows": ("g.csv", lambda: (GOOD + "1004,A3,X,1,2024-01-04,1.0,1,UK,extra\n").encode(),
                    err(ReadError, "row 5 .*has 9 fields where the header has 8")),
    "short row": ("g2.csv", lambda: (HDR + ROWS.replace(",17851,UK", "")).encode(),
                  err(ReadError, "row 3 .*has 6 fields where the header has 8")),
    "open quote": ("q.csv", lambda: (GOOD + '1004,"A3,X,1,2024-01-04,1.0,1,UK\n').encode(),
                   err(ReadError, "CSV")),
    "one column": ("c.csv", lambda: b"a\n1\n2\n", err(FormatError, "Could not recognise")),
    "unknown columns": ("u.csv", lambda: b"foo,bar,baz\n1,2,3\n", err(FormatError, "customer")),
    "duplicate columns": ("dup.csv", lambda: (HDR.replace("Country", "CustomerID") + ROWS)
                          .encode(), err(FormatError, r"2 columns named 'CustomerID' \(columns "
                                         r"7, 8\).*customer=CustomerID\.2")),
    "duplicate column, real one second": ("dup2.csv", lambda: (
        HDR.replace("StockCode", "StockCode,StockCode") + ROWS.replace(",A", ",ZZZ,A")).encode(),
        err(FormatError, "2 columns named 'StockCode'.*item=StockCode.2 \\(the second\\)")),
    "duplicate column the import does not use": ("dup3.csv", lambda: (
        HDR.replace("\n", ",Notes,Notes\n") + ROWS.replace("UK\n", "UK,a,b\n")).encode(),
        ok(n_lines(3))),
    # ---- encodings and dialects that must work
    "utf-16 bom": ("u16.csv", lambda: GOOD.encode("utf-16"), ok(n_lines(3))),
    "utf-16-le no bom": ("u16le.csv", lambda: GOOD.encode("utf-16-le"), ok(n_lines(3))),
    "utf-16-be no bom": ("u16be.csv", lambda: GOOD.encode("utf-16-be"), ok(n_lines(3))),
    "utf-8 bom": ("bom.csv", lambda: b"\xef\xbb\xbf" + GOOD.encode(), ok(n_lines(3))),
    "cp1252 pound": ("cp.csv", lambda: GOOD.replace("MUG", "MUG £5").encode("cp1252"),
                     ok(lambda d: "MUG £5" in set(d.products["name"]))),
    "latin-1": ("l1.csv", lambda: GOOD.replace("BOWL", "BOL É").encode("latin-1"),
                ok(n_lines(3))),
    "semicolons": ("s.csv", lambda: GOOD.replace(",", ";").encode(), ok(n_lines(3))),
    "tabs": ("t.tsv", lambda: GOOD.replace(",", "\t").encode(), ok(n_lines(3))),
    "pipes": ("pi.csv", lambda: GOOD.replace(",", "|").encode(), ok(n_lines(3))),
    "crlf": ("crlf.csv", lambda: GOOD.replace("\n", "\r\n").encode(), ok(n_lines(3))),
    "cr only": ("cr.csv", lambda: GOOD.replace("\n", "\r").encode(), ok(n_lines(3))),
    "blank lines": ("bl.csv", lambda: (HDR + "\n" + ROWS + "\n\n\n").encode(), ok(n_lines(3))),
    "formula cells": ("fx.csv", lambda: GOOD.replace("MUG", "=HYPERLINK(\"x\")").encode(),
                      ok(n_lines(3))),
    "10 KB name": ("ln.csv", lambda: GOOD.replace("MUG", "M" * 10_000).encode(),
                   ok(n_lines(3))),
    # ---- silently wrong data, made loud
    "scientific ids": ("sci.csv", lambda: GOOD.replace("17851", "1.785e+04").encode(),
                       err(FormatError, "scientific notation .*data line 2")),
    "quantity 1e39": ("q39.csv", lambda: GOOD.replace(",2,2024-01-01", ",1e39,2024-01-01")
                      .encode(), ok(n_lines(2))),
    "infinite price": ("inf.csv", lambda: GOOD.replace(",3.0,17850", ",inf,17850").encode(),
                       ok(n_lines(2))),
    "year 9999 and 0001": ("y.csv", lambda: (GOOD + "1004,A3,X,1,9999-12-31 10:00:00,1.0,1,UK\n"
                                             "1005,A3,X,1,0001-01-01 10:00:00,1.0,1,UK\n")
                           .encode(), ok(lambda d: len(d.interactions) == 3
                                         and d.report.dates_out_of_range == 2)),
    "mm/dd newest first": ("md.csv", lambda: (HDR + "".join(
        f"{100 + d},A{d},X,1,12/{d:02d}/2010 10:00,1.0,{17000 + d},UK\n"
        for d in range(12, 0, -1))).encode(),
        ok(lambda d: d.interactions["timestamp"].dt.month.eq(12).all()
           and d.report.time_style == "month-first")),
    "iso mixed with dd/mm": ("mix.csv", lambda: (HDR + "1,A,X,1,2011-03-04 10:00,1,1,UK\n"
                                                  "2,A2,X,1,15/03/2011 10:00,1,2,UK\n").encode(),
                             ok(lambda d: sorted(d.interactions["timestamp"].dt.day) == [4, 15]
                                and set(d.interactions["timestamp"].dt.month) == {3})),
    "day and month first mixed": ("dm.csv", lambda: (HDR + "1,A,X,1,21/03/2011,1,1,UK\n"
                                                     "2,A2,X,1,03/21/2011,1,2,UK\n").encode(),
                                  err(FormatError, "mixes day-first")),
    "unreadable dates": ("ud.csv", lambda: GOOD.replace("2024-01-0", "someday ").encode(),
                         err(FormatError, "No order lines")),
    "only cancellations": ("oc.csv", lambda: (HDR + ROWS.replace("100", "C100")).encode(),
                           err(FormatError, "cancellations=3")),
    "mixed utc offsets": ("off.csv", lambda: (
        b"customer_id,product_id,order_date\n"
        b"a,p1,2024-03-30 10:00:00 +0000\nb,p2,2024-04-02 10:00:00 +0100\n"
        b"a,p2,2024-04-03 10:00:00\n"),
        ok(lambda d: d.interactions["timestamp"].iloc[1] == pd.Timestamp("2024-04-02 09:00"))),
    "unix seconds": ("ux.csv", lambda: b"user,sku,ts\nu1,p1,1700000000\nu2,p2,1700003600\n",
                     ok(n_lines(2))),
    # ---- compressed
    "gzip": ("g.csv.gz", lambda: gz(GOOD), ok(n_lines(3))),
    "truncated gzip": ("tg.csv.gz", lambda: gz(lines(3000))[:-40], err(ReadError, "truncated")),
    "gzip of random bytes": ("gr.csv.gz", lambda: gz(_random(4000)), err(ReadError, "binary")),
    "gzip of garbage header": ("gh.csv.gz", lambda: b"\x1f\x8b" + _random(500),
                               err(ReadError, "damaged")),
    "gzip bomb": ("gb.csv.gz", lambda: gz(lines(10) + "x" * 3_000_000),
                  err(LimitError, "expands to more than the limit of 2 MB")),
    "zip": ("z.zip", lambda: zipped({"orders.csv": GOOD}), ok(n_lines(3))),
    "zip of two tables": ("z2.zip", lambda: zipped({"a.csv": GOOD, "b.csv": GOOD.replace(
        "100", "200")}), ok(n_lines(6))),
    "zip without tables": ("zn.zip", lambda: zipped({"readme.md": "hi"}),
                           err(ReadError, "holds no CSV")),
    "empty zip": ("ze.zip", lambda: zipped({}), err(ReadError, "holds no CSV")),
    "nested zip": ("zz.zip", lambda: zipped({"inner.zip": zipped({"a.csv": GOOD})}),
                   err(ReadError, "another zip")),
    "zip bomb": ("zb.zip", lambda: zipped({"big.csv": lines(5) + "x" * 3_000_000}),
                 err(LimitError, "declares")),
    "corrupt zip": ("zc.zip", lambda: b"PK\x03\x04" + _random(300), err(ReadError, "zip")),
    "zip path traversal": ("zt.zip", lambda: zipped({"../../etc/evil.csv": GOOD}),
                           ok(n_lines(3))),
    "zip of many files": ("zm.zip", lambda: zipped({f"f{i}.csv": GOOD for i in range(30)}),
                          err(LimitError, "RECSYS_MAX_FILES")),
    "gzip inside zip": ("zg.zip", lambda: zipped({"a.csv.gz": gz(GOOD)}), ok(n_lines(3))),
    # ---- spreadsheets
    "xlsx": ("x.xlsx", lambda: xlsx(XROWS), ok(n_lines(2))),
    "xlsx two sheets": ("x2.xlsx", lambda: xlsx(XROWS, sheets=2), ok(n_lines(2))),
    "xlsx sparse far cell": ("xs.xlsx", lambda: xlsx(XROWS, lambda ws: ws.cell(
        row=1_048_576, column=16_384, value="x")), err(LimitError, "declares")),
    "xlsx corrupt": ("xc.xlsx", lambda: b"PK\x03\x04garbage" + _random(200),
                     err(ReadError, "Excel|zip")),
    "xlsx billion laughs": ("xl.xlsx", lambda: xlsx_with_sheet_xml(LAUGHS),
                            err(ReadError, "Excel")),
    "xlsx external entity": ("xe.xlsx", lambda: xlsx_with_sheet_xml(XXE),
                             err(ReadError, "Excel")),
    "xlsx empty sheet": ("xz.xlsx", lambda: xlsx([]), err(FormatError, "recognise")),
    # ---- parquet
    "parquet": ("p.parquet", lambda: parquet(PQ), ok(n_lines(3))),
    "corrupt parquet": ("pc.parquet", lambda: b"PAR1" + _random(300) + b"PAR1",
                        err(ReadError, "Parquet")),
    "parquet too many rows": ("pr.parquet", lambda: parquet(pd.concat([PQ] * 100)),
                              err(LimitError, "RECSYS_MAX_ROWS")),
    # ---- other formats' traps
    "instacart products only": ("products.csv", lambda: b"product_id,product_name,aisle_id,"
                                b"department_id\n1,Milk,3,4\n",
                                err(FormatError, "Instacart needs")),
    "shopify mixed identities": ("orders_export.csv", lambda: (
        SHOPIFY_HDR + "#1,ann@example.com,paid,,,2024-01-01 10:00:00 +0000,1,Mug,5,M1,"
        "Ann Smith,+44 7700 900123,1 High St,,GB,GBP,V\n"
        "#2,+447700900456,paid,,,2024-01-02 10:00:00 +0000,1,Bowl,5,B1,Bob Jones,,,,GB,GBP,V\n"
        "#3,Cara Diaz,paid,,,2024-01-03 10:00:00 +0000,1,Mug,5,M1,,,,,GB,GBP,V\n").encode(),
        ok(lambda d: all(c.startswith("c_") for c in d.customer_ids))),
    # ---- real-shape Shopify exports carrying identities (checked: no message quotes them)
    "shopify with one malformed line": ("orders_export.csv", lambda: pii_shop(extra_field=39),
                                        err(ReadError, "row 39 .*21 fields where the header "
                                                       "has 20")),
    "shopify with a short line": ("orders_export.csv", lambda: pii_shop(short_line=41),
                                  err(ReadError, "row 41 .*fields where the header has 20")),
    "shopify with an open quote": ("orders_export.csv", lambda: pii_shop(open_quote=44),
                                   err(ReadError, "CSV")),
    "shopify, Billing Name empty throughout": ("orders_export.csv",
                                               lambda: pii_shop(empty=("Billing Name",)),
                                               ok(lambda d: d.n_customers > 10)),
    "shopify, every identity column empty": (
        "orders_export.csv", lambda: pii_shop(empty=("Email", "Phone", "Billing Name",
                                                     "Billing Zip")),
        err(FormatError, "missing_customer")),
    "shopify with two Email columns": ("orders_export.csv", lambda: pii_shop(double="Email"),
                                       err(FormatError, "2 columns named 'Email'")),
}

# ---------------------------------------------------------------- exports with identities
def _shop_rows() -> list[list[str]]:
    import csv

    from tests.shops import shopify_orders

    return list(csv.reader(io.StringIO(shopify_orders(n_customers=22, seed=5).decode())))


def pii_values() -> set[str]:
    """The identities in ``pii_shop``'s rows (e-mails, phones, names, streets): none may
    appear in any message, record, log or file the product writes."""
    rows = _shop_rows()
    head = rows[0]
    cols = [head.index(c) for c in ("Email", "Phone", "Billing Name", "Shipping Street")]
    return {r[i] for r in rows[1:] for i in cols if len(r) > i and len(r[i]) >= 7}


def pii_shop(extra_field: int | None = None, short_line: int | None = None,
             open_quote: int | None = None, empty: tuple[str, ...] = (),
             double: str | None = None) -> bytes:
    """A real-shape Shopify export (tests/shops.py) with one fault: an extra field on data
    row N (the header is row 1), a line cut short, an unclosed quote, identity columns
    blank throughout, or one column twice."""
    import csv

    rows = _shop_rows()
    head = rows[0]
    for col in empty:
        i = head.index(col)
        for r in rows[1:]:
            r[i] = ""
    if double:
        i = head.index(double)
        rows = [r[: i + 1] + [r[i]] + r[i + 1:] for r in rows]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    lines = buf.getvalue().split("\n")
    # Map data row numbers to physical lines (a Notes value may span two lines).
    starts, n = [], 0
    for rec in rows:
        starts.append(n)
        sub = io.StringIO()
        csv.writer(sub, lineterminator="\n").writerow(rec)
        n += sub.getvalue().count("\n")
    for row_no, change in ((extra_field, "extra"), (short_line, "short"), (open_quote, "quote")):
        if row_no is None:
            continue
        rec = rows[row_no - 1]
        assert rec[1], "the faulty row must carry an e-mail"
        at = starts[row_no - 1]
        if change == "extra":
            lines[at] += ",surplus"
        elif change == "short":
            lines[at] = lines[at].rsplit(",", 3)[0]
        else:
            lines[at] = lines[at].replace(",", ',"', 1)
    return "\n".join(lines).encode()


# Limits the corpus runs under (small, so that bombs are cheap to build).
LIMITS = {"RECSYS_MAX_INPUT_MB": "2", "RECSYS_MAX_FILES": "10", "RECSYS_MAX_ROWS": "200",
          "RECSYS_MAX_SHEET_CELLS": "5000000"}


# ---------------------------------------------------------------- big bombs, for subprocesses
def write_gzip_bomb(path: Path, size: int) -> None:
    """A gzip of real order lines that expands to ``size`` bytes (a few MB on disk)."""
    block = (lines(200)[len(HDR):]).encode() * 50  # repeats within zlib's 32 KB window
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as out:
        out.write(comp.compress(HDR.encode()))
        written = 0
        while written < size:
            out.write(comp.compress(block))
            written += len(block)
        out.write(comp.flush())


def write_zip_bomb(path: Path, size: int) -> None:
    """A zip whose one member claims and holds ``size`` bytes of repeated lines."""
    block = (lines(200)[len(HDR):]).encode() * 50  # repeats within zlib's 32 KB window
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, \
            zf.open("orders.csv", "w", force_zip64=True) as out:
        out.write(HDR.encode())
        written = 0
        while written < size:
            out.write(block)
            written += len(block)


def write_sparse_xlsx(path: Path) -> None:
    path.write_bytes(xlsx(XROWS, lambda ws: ws.cell(row=1_048_576, column=16_384, value="x")))


BOMBS = {"zip 1.5 GB": ("bomb.zip", write_zip_bomb, 1_500_000_000),
         "gzip 2 GB of real rows": ("bomb.csv.gz", write_gzip_bomb, 2_000_000_000),
         "xlsx sparse": ("bomb.xlsx", lambda p, _: write_sparse_xlsx(p), 0)}


def memory_limited(limit_bytes: int) -> Callable[[], None]:
    """A preexec_fn capping the child's data segment (heap and private maps)."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, limit_bytes))

    return cap


def default_env(root: Path) -> dict[str, str]:
    """The environment with the default limits (the corpus's small ones removed)."""
    env = {k: v for k, v in os.environ.items() if k not in LIMITS}
    env["PYTHONPATH"] = str(root)
    return env
