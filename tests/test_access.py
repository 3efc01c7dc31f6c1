"""Other analysts on the same server: behind sign-in each has a private workspace, sessions
never see each other's data or models, and sharing with the team is on purpose. Without
sign-in, the Data page says that everything saved is visible to everyone."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import settle

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def shop_csv(prefix: str, n_customers: int = 30) -> bytes:
    rows = ["customer_id,product_id,order_date,order_id"]
    for c in range(n_customers):
        for k in range(6):
            rows.append(f"{prefix}{c},p{(c * 3 + k * 5) % 17},2024-0{1 + k % 5}-1{c % 9},"
                        f"{prefix}o{c}-{k}")
    return ("\n".join(rows) + "\n").encode()


def session(user: str | None, dataset: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if dataset:
        at.query_params["dataset"] = dataset  # as in a link, or after a reload
    if user:
        at.user = {"is_logged_in": True, "email": f"{user}@example.com", "sub": user}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def import_shop(at: AppTest, data: bytes, name: str = "shop") -> None:
    at.file_uploader[0].upload("orders.csv", data, "text/csv").run()
    at.text_input[0].set_value(name)
    next(b for b in at.button if b.label == "Import").click().run()
    settle(kinds=("import",))
    at.run()
    assert at.success and "Imported" in at.success[0].value, [e.value for e in at.error]


def datasets_offered(user: str) -> list[str]:
    """The sidebar's dataset list, as a fresh session of this analyst sees it (AppTest keeps
    the sidebar of a session's first run only)."""
    return [o.label if hasattr(o, "label") else str(o)
            for o in session(user).sidebar.selectbox[0].options]


def customers_on_page(at: AppTest) -> set[str]:
    at.switch_page("pages/customer.py").run()
    return set(at.selectbox[0].options)  # the customer list


@pytest.fixture
def server_key(monkeypatch):
    monkeypatch.setenv("RECSYS_PII_KEY", "team-server-key-" + "0" * 32)


def test_without_sign_in_the_data_page_says_everything_is_shared(fake_jobs):
    at = session(None)
    # said where an analyst uploads
    assert any("visible to anyone using this server" in w.value for w in at.warning)


def test_sign_in_is_required_when_configured():
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.metric


@pytest.mark.full
def test_same_dataset_name_two_analysts_no_leak_then_share(server_key):
    alice, bob = session("alice"), session("bob")
    import_shop(alice, shop_csv("a"))
    import_shop(bob, shop_csv("b", 25))  # same name, other shop
    settle()
    a_customers, b_customers = customers_on_page(alice), customers_on_page(bob)
    assert a_customers and b_customers and not a_customers & b_customers
    for at, own in ((alice, a_customers), (bob, b_customers)):
        at.switch_page("pages/products.py").run()
        assert not at.exception, [e.value for e in at.exception]
        targets = set(at.dataframe[-1].value["customer_id"])
        assert targets and targets <= own  # the model behind it was trained on their data
    assert datasets_offered("carol") == ["Demo shop (generated)"]
    assert datasets_offered("bob") == ["Demo shop (generated)", "shop"]
    alice.switch_page("pages/data.py").run()
    share = next(b for b in alice.button if b.label.startswith("Share this dataset"))
    share.click().run()
    assert datasets_offered("carol") == ["Demo shop (generated)", "team · shop"]
    assert datasets_offered("bob") == ["Demo shop (generated)", "shop", "team · shop"]
    assert customers_on_page(bob) == b_customers  # his own shop is still his
    team_view = session("carol", dataset="team:shop")
    assert customers_on_page(team_view) == a_customers  # alice's shop, shared on purpose
    assert customers_on_page(session("carol", dataset="shop")) != a_customers  # not hers
