"""Session-state keys the app owns (widget keys are dropped on page switch; these are not)."""

DATASET = "dataset"  # "demo" or "saved:<name>"
RESULTS = "results"  # {dataset key: {label: leaderboard row}}
TRAINED = "trained"  # {dataset key: {label: registry key}}
NOTICE = "notice"  # a message to show once on the next run
DEMO = "demo"


def init(state) -> None:
    state.setdefault(DATASET, DEMO)
    state.setdefault(RESULTS, {})
    state.setdefault(TRAINED, {})
