"""A real-shape Shopify orders export, generated: buyers known by e-mail, by phone only, by
name and postcode only, and guests; order-level fields on an order's first line only; local
times with mixed UTC offsets; a non-GBP currency; refunds and shipping protection lines."""

from __future__ import annotations

import numpy as np

HEADER = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Created at",
          "Currency", "Subtotal", "Lineitem quantity", "Lineitem name", "Lineitem price",
          "Lineitem sku", "Billing Name", "Billing Zip", "Phone", "Shipping Street",
          "Shipping Province", "Shipping Country", "Vendor", "Notes"]
PRODUCTS = [("Ceramic Tea Cup", 450), ("Ceramic Tea Pot", 1800), ("Cotton Tea Towel", 350),
            ("Linen Tea Towel", 520), ("Jute Shopping Bag", 600), ("Canvas Tote Bag", 750),
            ("Soy Wax Candle", 900), ("Scented Candle Set", 1500), ("Brass Candle Holder", 1100),
            ("Clay Plant Pot", 700), ("Hanging Plant Pot", 950), ("Bamboo Notebook", 300),
            ("Handmade Paper Notebook", 420), ("Greeting Card Set", 250), ("Wooden Toy Car", 800),
            ("Cotton Cushion Cover", 650), ("Silk Cushion Cover", 1400), ("Wall Clock", 2100)]


def shopify_orders(n_customers: int = 60, weeks: int = 26, seed: int = 0,
                   currency: str = "BDT") -> bytes:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["email", "phone", "name", "guest"], n_customers, p=[0.4, 0.3, 0.2, 0.1])
    taste = rng.dirichlet(np.full(len(PRODUCTS), 0.3), n_customers)
    rows, order = [], 1000
    for c in range(n_customers):
        visits = 1 if kinds[c] == "guest" else int(rng.integers(2, 8))
        for day in np.sort(rng.integers(0, weeks * 7, visits)):
            order += 1
            items = np.unique(rng.choice(len(PRODUCTS), int(rng.integers(1, 4)), p=taste[c]))
            offset = "+0600" if (day // 60) % 2 == 0 else "-0400"  # two shop time zones
            when = (np.datetime64("2024-01-01T10:00") + np.timedelta64(int(day), "D")
                    + np.timedelta64(int(rng.integers(0, 600)), "m"))
            status = "refunded" if rng.random() < 0.03 else "paid"
            for k, i in enumerate(items):
                first = k == 0
                name, price = PRODUCTS[i]
                rows.append([
                    f"#{order}",
                    f"buyer{c}@mail.example" if first and kinds[c] == "email" else "",
                    status if first else "", "", "fulfilled" if first else "",
                    f"{str(when).replace('T', ' ')}:00 {offset}" if first else "",
                    currency if first else "", "", str(int(rng.integers(1, 3))), name,
                    f"{price:.2f}", f"SKU-{i:03d}",
                    f"Buyer {c}" if first and kinds[c] in ("phone", "name") else "",
                    f"{1200 + c}" if first and kinds[c] == "name" else "",
                    f"+8801{c:09d}" if first and kinds[c] == "phone" else "",
                    f"{c} Market Road" if first else "", "", "BD" if first else "",
                    "Maker Co", '"Leave at the door,\nplease"' if first and c % 7 == 0 else ""])
            if rng.random() < 0.2:
                rows.append([f"#{order}", "", "", "", "", "", "", "", "1",
                             "Shipping Protection", "50.00", "", "", "", "", "", "", "",
                             "Route", ""])
    lines = [",".join(HEADER)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()
