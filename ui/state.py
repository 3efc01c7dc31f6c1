"""Session-state keys the app owns (widget keys are dropped on page switch; these are not)."""

from recsys.workspace import DatasetRef

DATASET = "dataset"  # the DatasetRef this session looks at
RESULTS = "results"  # {dataset fingerprint: {label: leaderboard row}}
TRAINED = "trained"  # {dataset fingerprint: {label: model key}}
NOTICE = "notice"  # a message to show once on the next run


def init(state) -> None:
    state.setdefault(DATASET, DatasetRef.demo())
    state.setdefault(RESULTS, {})
    state.setdefault(TRAINED, {})
