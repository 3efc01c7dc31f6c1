"""One fixture per import format, written by the tests themselves."""

from __future__ import annotations

import gzip
import io
import zipfile

import pandas as pd
import pytest

from recsys.data import (
    ColumnMapping,
    FormatError,
    ImportOptions,
    ReadError,
    detect_format,
    load_orders,
)
from recsys.data.readers import RawSource

RETAIL = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17851.0,France
C536379,22633,HAND WARMER UNION JACK,-1,2010-12-01 09:41:00,1.85,17851.0,France
536380,POST,POSTAGE,1,2010-12-01 09:45:00,18.00,17851.0,France
536381,22633,HAND WARMER UNION JACK,2,2010-12-01 10:00:00,1.85,,United Kingdom
536382,00123,"DOORMAT, RED",1,2010-12-02 10:00:00,4.95,17852.0,Spain
"""


def upload(name: str, data: bytes) -> io.BytesIO:
    """What Streamlit's uploader hands over: a file-like object with a name."""
    buf = io.BytesIO(data)
    buf.name = name
    return buf


def rules(data) -> dict[str, int]:
    return {r["rule"]: r["removed"] for r in data.report.cleaning}


def test_online_retail_csv_float_ids_and_cleaning():
    data = load_orders(upload("retail.csv", RETAIL.encode()))
    assert data.report.format == "online_retail"
    assert data.report.mapping["customer"] == "CustomerID"
    assert set(data.customer_ids) == {"17850", "17851", "17852"}
    assert "00123" in set(data.item_ids)  # leading zeros survive
    r = rules(data)
    assert r["cancellations"] == 1 and r["non_products"] == 1 and r["missing_customer"] == 1
    assert data.report.rows_read == 7 and data.report.rows_kept == 4
    assert sum(r.values()) + data.report.rows_kept == data.report.rows_read
    assert data.products.set_index("item_id").loc["00123", "name"] == "DOORMAT, RED"
    c = data.customers.set_index("customer_id")
    assert c.loc["17850", "orders"] == 1 and c.loc["17850", "country"] == "United Kingdom"
    assert c.loc["17850", "spend"] == pytest.approx(6 * 2.55 + 6 * 3.39, rel=1e-5)


@pytest.mark.parametrize("delim", [";", "\t", "|"])
def test_delimiters_sniffed(delim):
    text = RETAIL.replace('"DOORMAT, RED"', "DOORMAT RED").replace(",", delim)
    data = load_orders(upload("retail.txt", text.encode()))
    assert data.report.files[0]["delimiter"] == delim
    assert len(data.interactions) == 4


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "latin-1"])
def test_encodings(encoding):
    text = RETAIL.replace("WHITE METAL LANTERN", "CAFÉ LANTERN ±")
    data = load_orders(upload("retail.csv", text.encode(encoding)))
    assert "CAFÉ LANTERN ±" in set(data.products["name"])
    assert data.report.mapping["order"] == "InvoiceNo"  # BOM did not stick to the header


def test_gzip_zip_and_folder(tmp_path):
    gz = tmp_path / "retail.csv.gz"
    gz.write_bytes(gzip.compress(RETAIL.encode()))
    assert len(load_orders(gz).interactions) == 4
    assert len(load_orders(upload("r.csv.gz", gzip.compress(RETAIL.encode()))).interactions) == 4
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("export/retail.csv", RETAIL)
        zf.writestr("__MACOSX/._retail.csv", "junk")
    assert len(load_orders(upload("export.zip", zbuf.getvalue())).interactions) == 4
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "a.csv").write_text(RETAIL)
    (folder / "b.csv").write_text(RETAIL.replace("5363", "6363"))
    assert len(load_orders(folder).interactions) == 8


def test_xlsx_two_sheets_concatenated_and_sheet_selectable(tmp_path):
    df = pd.read_csv(io.StringIO(RETAIL), dtype=str)
    path = tmp_path / "online_retail_II.xlsx"
    with pd.ExcelWriter(path) as xl:
        df.iloc[:3].to_excel(xl, sheet_name="Year 2009-2010", index=False)
        df.iloc[3:].to_excel(xl, sheet_name="Year 2010-2011", index=False)
    both = load_orders(path)
    assert both.report.files[0]["sheets"] == ["Year 2009-2010", "Year 2010-2011"]
    assert len(both.interactions) == 4
    first = load_orders(path, options=ImportOptions(sheet=0))
    assert len(first.interactions) == 3


def test_online_retail_ii_columns_and_parquet(tmp_path):
    text = RETAIL.replace("InvoiceNo", "Invoice").replace("UnitPrice", "Price") \
        .replace("CustomerID", "Customer ID")
    df = pd.read_csv(io.StringIO(text), dtype=str)
    path = tmp_path / "retail.parquet"
    df.to_parquet(path)
    data = load_orders(path)
    assert data.report.format == "online_retail"
    assert data.report.mapping["customer"] == "Customer ID"
    assert len(data.interactions) == 4


SHOPIFY = '''Name,Email,Financial Status,Paid at,Fulfillment Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,Phone,Shipping Street,Shipping Province,Shipping Country,Notes,Vendor,Cancelled at
#1001,Ann@Example.com,paid,2026-04-01 12:40:00 -0400,fulfilled,2026-04-01 12:39:28 -0400,2,Blue Mug,12.00,MUG-B,Ann Smith,555-1234,1 Main St,NY,US,"Please gift wrap,
leave at the door",MugCo,
#1001,,,,,,1,Red Mug,12.00,MUG-R,,,,,,,MugCo,
#1002,bob@example.com,refunded,,,2026-04-02 09:00:00 -0400,1,Blue Mug,12.00,MUG-B,Bob Jones,,,CA,US,,MugCo,
#1003,,paid,,,2026-04-03 10:00:00 -0400,1,Tea Towel,8.00,,Guest,,,,US,,TowelCo,
#1004,ann@example.com,paid,,,2026-04-05 10:00:00 +0100,1,Shipping Protection,2.00,,,,,,GB,,Route,
#1004,,,,,,3,Tea Towel,8.00,,,,,,,,TowelCo,
#1005,cara@example.com,voided,,,2026-04-06 10:00:00 -0400,1,Red Mug,12.00,MUG-R,,,,,US,,MugCo,
'''


def test_shopify_export():
    data = load_orders(upload("orders_export.csv", SHOPIFY.encode()),
                       options=ImportOptions(pii_key=b"test-key"))
    assert data.report.format == "shopify"
    r = rules(data)
    assert r["cancellations"] == 2  # refunded #1002, voided #1005
    assert r["missing_customer"] == 1  # guest order #1003
    assert r["non_products"] == 1  # shipping protection
    # The second line of #1001 inherits e-mail and date from its first line (forward fill).
    assert len(data.interactions) == 3
    ids = set(data.customer_ids)
    assert len(ids) == 1 and all(i.startswith("c_") and "@" not in i for i in ids)
    assert data.report.pseudonymised
    # Ann@Example.com and ann@example.com are one customer.
    assert data.customers["orders"].iloc[0] == 2
    assert set(data.item_ids) == {"MUG-B", "MUG-R", "Tea Towel"}  # sku, else the name
    first = data.interactions.sort_values("timestamp").iloc[0]
    assert first["timestamp"] == pd.Timestamp("2026-04-01 16:39:28")  # -0400 to UTC
    dropped = data.report.files[0]["pii_columns_dropped"]
    assert {"Billing Name", "Phone", "Shipping Street"} <= set(dropped)
    assert "Ann Smith" not in data.interactions.to_string() + data.customers.to_string()


def test_pseudonyms_stable_per_key():
    a = load_orders(upload("o.csv", SHOPIFY.encode()), options=ImportOptions(pii_key=b"k1"))
    b = load_orders(upload("o.csv", SHOPIFY.encode()), options=ImportOptions(pii_key=b"k1"))
    c = load_orders(upload("o.csv", SHOPIFY.encode()), options=ImportOptions(pii_key=b"k2"))
    assert list(a.customer_ids) == list(b.customer_ids) != list(c.customer_ids)


def test_shopify_older_export_with_fewer_columns():
    text = ("Name,Email,Created at,Lineitem quantity,Lineitem name,Lineitem price\n"
            "#1,a@x.com,2019-01-01 10:00:00 +0000,1,Mug,5\n"
            "#1,,,2,Towel,3\n")
    data = load_orders(upload("old.csv", text.encode()), options=ImportOptions(pii_key=b"k"))
    assert data.report.format == "shopify" and len(data.interactions) == 2


def instacart_files() -> list[io.BytesIO]:
    orders = ("order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,"
              "days_since_prior_order\n"
              "1,7,prior,1,2,8,\n2,7,prior,2,3,9,10.0\n3,7,train,3,4,10,5.0\n"
              "4,8,prior,1,1,11,\n5,8,prior,2,1,12,30.0\n")
    prior = ("order_id,product_id,add_to_cart_order,reordered\n"
             "1,100,1,0\n1,200,2,0\n2,100,1,1\n4,300,1,0\n5,300,1,1\n5,100,2,0\n")
    train = "order_id,product_id,add_to_cart_order,reordered\n3,200,1,1\n"
    products = "product_id,product_name,aisle_id,department_id\n100,Bananas,1,1\n" \
               "200,Milk,2,2\n300,Bread,3,3\n"
    aisles = "aisle_id,aisle\n1,fresh fruits\n2,milk\n3,bread\n"
    depts = "department_id,department\n1,produce\n2,dairy eggs\n3,bakery\n"
    names = ["orders.csv", "order_products__prior.csv", "order_products__train.csv",
             "products.csv", "aisles.csv", "departments.csv"]
    return [upload(n, t.encode()) for n, t in
            zip(names, [orders, prior, train, products, aisles, depts])]


def test_instacart_tables():
    data = load_orders(instacart_files())
    assert data.report.format == "instacart"
    assert len(data.interactions) == 7
    inter = data.interactions
    # Orders are laid back from a common end date by their day gaps.
    t = inter.groupby("order_id")["timestamp"].first()
    assert (t["3"] - t["2"]).days == 5 and (t["2"] - t["1"]).days == 10
    assert t["5"].normalize() == t["3"].normalize()  # both users' last orders end together
    assert data.products.set_index("item_id").loc["100", "category"] == "fresh fruits"
    assert data.products.set_index("item_id").loc["100", "name"] == "Bananas"


def test_instacart_as_zip():
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for f in instacart_files():
            zf.writestr(f"instacart/{f.name}", f.getvalue())
    assert len(load_orders(upload("instacart.zip", zbuf.getvalue())).interactions) == 7


REES46 = """event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s1
2019-10-01 00:00:01 UTC,cart,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s2
2019-10-01 00:00:05 UTC,purchase,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s2
2019-10-02 10:00:05 UTC,purchase,1004856,2053013555631882655,electronics.smartphone,samsung,130.76,554748717,s3
2019-10-03 10:00:05 UTC,purchase,44600062,2103807459595387724,,shiseido,35.79,541312140,s4
"""


def test_rees46_event_log():
    data = load_orders(upload("2019-Oct.csv", REES46.encode()))
    assert data.report.format == "rees46"
    assert len(data.interactions) == 3
    assert data.signals is not None and set(data.signals["event"]) == {"view", "cart"}
    assert data.signals["weight"].between(0, 1).all()
    p = data.products.set_index("item_id")
    assert p.loc["3900821", "category"] == "appliances.water_heater"
    assert p.loc["44600062", "category"] == "2103807459595387724"  # falls back to category_id
    assert data.interactions["timestamp"].min() == pd.Timestamp("2019-10-01 00:00:05")


def test_generic_day_first_dates():
    text = ("client_id;sku;purchase_date;qty\n"
            "A;X1;21-07-2015;1\nA;X2;03-08-2015;2\nB;X1;04-08-2015;1\n")
    data = load_orders(upload("sales.csv", text.encode()))
    assert data.report.format == "generic"
    assert data.report.time_style == "day-first"
    assert data.interactions["timestamp"].max() == pd.Timestamp("2015-08-04")
    # No order column: one order per customer and day.
    assert data.interactions["order_id"].nunique() == 3


def test_generic_month_first_and_ambiguous_dates():
    text = "customer,product,date\nA,X,07/21/2015\nB,Y,08/03/2015\n"
    data = load_orders(upload("s.csv", text.encode()))
    assert data.report.time_style == "month-first"
    amb = "customer,product,date\n" + "".join(
        f"A,X{i},{d:02d}/{m:02d}/2015\n" for i, (d, m) in enumerate(
            [(1, 2), (5, 2), (9, 2), (2, 3), (6, 3), (10, 3)]))
    # Both readings are possible; only day-first makes the file chronological.
    assert load_orders(upload("a.csv", amb.encode())).report.time_style == "day-first"


def test_unix_seconds():
    text = "user_id,item_id,ts\nu1,i1,1700000000\nu1,i2,1700086400\n"
    data = load_orders(upload("e.csv", text.encode()))
    assert data.report.time_style == "unix"
    assert data.interactions["timestamp"].min() == pd.Timestamp("2023-11-14 22:13:20")


def test_explicit_mapping_and_missing_role_error():
    text = "who,what,when\nA,X,2024-01-01\nB,Y,2024-01-02\n"
    with pytest.raises(FormatError) as err:
        load_orders(upload("odd.csv", text.encode()))
    msg = str(err.value)
    assert "customer" in msg and "who" in msg and "what" in msg  # names roles and columns
    m = ColumnMapping.from_string("customer=who,item=what,time=when")
    assert len(load_orders(upload("odd.csv", text.encode()), mapping=m).interactions) == 2
    with pytest.raises(FormatError, match="nope"):
        load_orders(upload("odd.csv", text.encode()),
                    mapping=ColumnMapping(customer="nope", item="what", time="when"))


def test_detect_candidates():
    assert detect_format(["InvoiceNo", "StockCode", "InvoiceDate", "CustomerID"])[0].format \
        == "online_retail"
    dets = detect_format(["customer_id", "product_id", "order_date"])
    assert dets[0].format == "generic" and dets[0].mapping.item == "product_id"


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(ReadError, match="not found"):
        load_orders(tmp_path / "missing.csv")
    with pytest.raises(ReadError, match="empty"):
        load_orders(upload("empty.csv", b""))
    with pytest.raises(FormatError):
        load_orders(upload("x.csv", b"a,b\n1,2\n"))
    with pytest.raises(FormatError, match="Unknown format"):
        load_orders(upload("x.csv", RETAIL.encode()), format="sap")
    with pytest.raises(FormatError, match="shopify"):
        load_orders(upload("x.csv", RETAIL.encode()), format="shopify")
    with pytest.raises(ReadError):
        load_orders(RawSource(name="broken.xlsx", data=b"PK\x03\x04garbage"))


def test_a_single_table_with_instacart_names_is_generic():
    """user_id, product_id, aisle and a date in one table: a generic export, not half of
    Instacart's tables."""
    text = ("user_id,product_id,aisle,order_id,order_number,order_date\n"
            "7,100,yogurt,1,1,2024-01-01\n7,200,bread,2,2,2024-01-08\n8,100,yogurt,3,1,"
            "2024-01-03\n")
    data = load_orders(upload("export.csv", text.encode()))
    assert data.report.format == "generic" and len(data.interactions) == 3
    assert set(data.products["category"]) == {"yogurt", "bread"}


def test_shopify_buyers_without_email_keep_their_identity():
    from tests.shops import shopify_orders

    data = load_orders(upload("orders_export.csv", shopify_orders()),
                       options=ImportOptions(pii_key=b"k"))
    sources = data.report.customer_key["sources"]
    assert set(sources) == {"email", "phone", "name+postcode"} and data.report.currency == "BDT"
    s = data.summary()
    assert s["customers"] < 0.5 * s["orders"] and not data.report.warnings
    assert all(c.startswith("c_") for c in data.customer_ids)


def test_one_customer_per_order_is_warned_about():
    rows = "".join(f"c{i},p{i % 5},2024-01-{1 + i % 28:02d},o{i}\n" for i in range(40))
    data = load_orders(upload("x.csv", ("customer_id,product_id,order_date,order_id\n" + rows)
                              .encode()), options=ImportOptions(pii_key=b"k"))
    assert data.report.warnings and "repeat buyers cannot be seen" in data.report.warnings[0]
