"""A job's name says what it is for; its settings are in a details view, in words."""

from __future__ import annotations

from recsys.presentation import job_details, request_label
from recsys.requests import CampaignRequest, DatasetKey, FitRequest, TuneRequest
from recsys.workspace import DatasetRef
from tests.conftest import no_errors

KEY = DatasetKey(DatasetRef.demo(), "fp")


def test_settings_in_words_for_each_kind_of_job():
    fit = FitRequest.of(KEY, "ease", {"l2": 250}, "2011-11-01")
    rows = dict(job_details(fit.kind, fit.to_params()))
    assert rows["settings"] == "Regularisation 250" and rows["scored on the top"] == "10"
    assert rows["learns from orders before"] == "2011-11-01" and rows["refit on all orders " \
                                                                     "after"] == "yes"
    camp = CampaignRequest.of(KEY, "propensity", "2011-11-01", 30)
    assert "history=" not in request_label(camp)  # the name says what it is for
    assert dict(job_details(camp.kind, camp.to_params()))["window (days)"] == "30"
    tune = TuneRequest(KEY, ("ease", "als"), "2011-11-01", 2.0)
    assert dict(job_details(tune.kind, tune.to_params()))["models"] == "ease, als"
    assert job_details("fit", {"nonsense": 1})[0][0] == "settings"  # never a traceback


def test_recent_jobs_show_their_settings_on_the_models_page(app):
    app.switch_page("pages/models.py").run()
    no_errors(app)
    shown = " ".join(m.value for m in app.markdown)
    assert "**learns from orders before**" in shown and "**settings**" in shown
