"""Where the campaign lift is lost: the model's ranking vs the same ranking if we knew who
will order at all in the window (an upper bound, not a score: it reads the window).

    python tools/campaign_ceiling.py [MODEL] [CUTOFFS] [DATA]

Per cutoff (20 best sellers, 30-day window, every training customer a candidate): the lift at
the top 5%; the lift when customers who order in the window are ranked first (same model order
within each group); how well 'orders in the last 90 days' predicts ordering at all (AUC);
and how much of the audience and of the buyers had bought the product before. Defaults to
the validation cutoffs, before the reported one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.campaign import (  # noqa: E402
    CampaignWindow,
    best_sellers,
    campaign_params,
    customer_scores,
    gains,
    heuristic_scores,
)
from recsys.data import load_orders  # noqa: E402
from recsys.models import make_model  # noqa: E402


def lift_top(scores: np.ndarray, pos: np.ndarray, top: int) -> float:
    return float(gains(scores, pos, np.array([top]))["lift"].iloc[0])


name = sys.argv[1] if len(sys.argv) > 1 else "propensity"
cutoffs = sys.argv[2].split(",") if len(sys.argv) > 2 else ["2011-09-01", "2011-10-01"]
path = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/online_retail.csv.gz"
if not Path(path).exists():
    sys.exit(f"no data at {path}")
data = load_orders(path)
print(f"{'cutoff':<12}{'lift@5%':>9}{'oracle':>9}{'AUC 90d':>9}"
      f"{'audience bought before':>24}{'buyers bought before':>22}")
for cut in cutoffs:
    window = CampaignWindow.of(data, cut, 30)
    train = window.train
    model = make_model(name, **campaign_params(name)).fit(train)
    ordered = np.isin(train.customer_ids, window.lines["customer_id"].astype(str).unique())
    top = max(1, round(0.05 * train.n_customers))
    X = train.matrix("binary").tocsc()
    rows = []
    for item in best_sellers(train, 20):
        pos = window.positives(item)
        s = customer_scores(model, train, item)
        rank = np.argsort(np.argsort(s))  # 0..n-1, so ordered customers go first, same order
        before = X[:, np.flatnonzero(train.item_ids == item)].toarray().ravel() > 0
        aud = np.argsort(-s, kind="stable")[:top]
        rows.append((lift_top(s, pos, top), lift_top(rank + ordered * len(s), pos, top),
                     before[aud].mean(), before[pos].mean()))
    r = np.mean(rows, axis=0)
    recent = heuristic_scores(train, "", "most_active")
    print(f"{cut:<12}{r[0]:>8.2f}x{r[1]:>8.2f}x{roc_auc_score(ordered, recent):>9.3f}"
          f"{r[2]:>23.0%}{r[3]:>21.0%}", flush=True)
