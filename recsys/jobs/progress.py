"""Turning a fit's ``callback(epoch, metrics)`` into a job's progress: the share done, a step
in words, an ETA, the latest metrics and the per-epoch history (for a loss/validation curve).

A job is a few stages (train, score, save...) that each own a span of the progress bar.
Inside the training stage, models that choose their epochs on a validation window report
phase 'validate' then 'fit'; how long validation runs is not known in advance. The plan is
the best guess from what it has seen: the best epoch so far (``best`` in the epoch's
metrics), one more while the last epoch still improved, plus ``patience`` epochs without
improvement, then as many epochs again to refit. The ETA is the plan's remaining epochs at
the pace measured so far (it grows while a model keeps improving, and is exact once it
stops); the bar never moves back when the plan grows. Writes are throttled; every report
also says whether someone asked the job to stop.
"""

from __future__ import annotations

import time
from typing import Any

from recsys.models.trainer import StopTraining

WRITE_EVERY_S = 0.5
PATIENCE_GUESS = 2  # until the first validated epoch says the model's own


class Reporter:
    """The callback a job hands to ``fit`` (and its stages' progress writer)."""

    def __init__(self, report, now=time.monotonic) -> None:
        # report(progress=, step=, eta=, metrics=, history=) -> bool (cancel asked)
        self._report, self._now = report, now
        self.history: list[dict[str, Any]] = []
        self.cancelled = False  # the job was asked to stop and training was told so
        self._last_write = -1e9
        self.stage("starting", 0.0, 0.0)

    # ------------------------------------------------------------ stages
    def stage(self, step: str, lo: float, hi: float, steps: int = 1) -> None:
        """A new stage covering [lo, hi] of the bar, with ``steps`` reports expected."""
        self.step, self.lo, self.hi, self.steps = step, lo, hi, max(int(steps), 1)
        self.step_text = step
        self._stage_start = self._now()
        self._val_epochs, self._best, self._patience = 0, 0, PATIENCE_GUESS
        self._improving, self._first = False, None
        self._bar = 0.0
        self._write(self.lo, force=True)

    def _plan(self, epoch: int, metrics: dict[str, Any]) -> tuple[float, float]:
        """(work done, work planned) in the stage after this report, in epochs (or steps)."""
        within = float(metrics.get("progress", 1.0))
        phase, of = metrics.get("phase"), int(metrics.get("of") or self.steps)
        if phase == "validate":
            self._val_epochs = max(self._val_epochs, epoch - (1 if "progress" in metrics else 0))
            self._patience = int(metrics.get("patience") or self._patience)
            if "best" in metrics:  # the first epoch is always the best so far: no evidence
                self._best = int(metrics["best"])
                self._improving = epoch > 1 and metrics["best"] == epoch
            # The best epoch so far, one more while the last one still improved.
            best = min(of, max(self._best, 1) + int(self._improving))
            planned = min(of, max(epoch, best + self._patience))
            return epoch - 1 + within, planned + best
        if phase == "fit" and self._val_epochs:
            return self._val_epochs + epoch - 1 + within, self._val_epochs + of
        return epoch - 1 + within, of if phase else self.steps

    # ------------------------------------------------------------ the callback
    def __call__(self, epoch: int, metrics: dict[str, Any]) -> None:
        done, planned = self._plan(epoch, metrics)
        share = min(max(done / max(planned, 1e-9), 0.0), 1.0)
        self._bar = max(self._bar, share)
        heartbeat = "progress" in metrics
        if not heartbeat:
            self.history.append({"epoch": epoch, **{k: v for k, v in metrics.items()
                                                    if isinstance(v, (int, float, str))}})
        phase = metrics.get("phase")
        self.step_text = (f"{self.step}: epoch {epoch}" + (f" of at most {metrics['of']}"
                          if phase in ("validate", "fit") else "")
                          + (f" ({phase})" if phase == "validate" else ""))
        if self._write(self.lo + self._bar * (self.hi - self.lo), share=share,
                       force=not heartbeat, metrics=None if heartbeat else metrics,
                       left=self._left(done, planned)):
            self.cancelled = True
            raise StopTraining

    def record(self, entry: dict[str, Any], share: float, text: str) -> None:
        """A step that is not an epoch (a tuning trial, say): kept in the history, the bar
        at ``share`` of the stage; raises StopTraining when the job was asked to stop."""
        self.history.append(entry)
        self.step_text = f"{self.step}: {text}"
        if self._write(self.lo + min(max(share, 0.0), 1.0) * (self.hi - self.lo), share=share,
                       force=True, metrics=entry):
            self.cancelled = True
            raise StopTraining

    def _left(self, done: float, planned: float) -> float | None:
        """Seconds left: the planned work still to do at the pace since the stage's first
        report of work (its setup before that is not work still to come)."""
        now = self._now()
        if self._first is None:
            self._first = (now, done)
            return None
        t0, d0 = self._first
        if now - t0 < 1.0 or done - d0 < 0.02:
            return None
        return max(planned - done, 0.0) * (now - t0) / (done - d0)

    def _write(self, progress: float, share: float = 0.0, force: bool = False,
               metrics: dict[str, Any] | None = None, left: float | None = None) -> bool:
        now = self._now()
        if not force and now - self._last_write < WRITE_EVERY_S:
            return False
        self._last_write = now
        elapsed = now - self._stage_start
        eta = left if left is not None else \
            elapsed * (1 - share) / share if share > 0.02 else None
        plain = {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float))}
        return bool(self._report(progress=progress, step=self.step_text,
                                 eta=eta, metrics=plain or None,
                                 history=self.history if metrics else None))

