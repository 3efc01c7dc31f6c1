"""``python -m recsys model list|export|import``: the workspace's trained models, and a model
as one file to carry to another workspace or machine (``recsys.model_files``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.cli_common import CliError, output_path
from recsys.model_files import MAX_FILE_BYTES, export_model, import_model, model_card
from recsys.models import ModelFileError
from recsys.workflow import served_models
from recsys.workspace import DatasetRef, StoreError, Workspace, check_name


def add_parser(sub) -> None:
    model = sub.add_parser("model", help="list the workspace's models, export one as a file, "
                                         "or import a model file")
    acts = model.add_subparsers(dest="action", required=True)
    ls = acts.add_parser("list", help="the models serving a dataset, best first")
    _dataset_args(ls)
    ex = acts.add_parser("export", help="write a stored model and its card to one file")
    ex.add_argument("name", help="the model's id (see `model list`)")
    ex.add_argument("--out", type=output_path, required=True,
                    help="the file to write (.recsys-model.zip)")
    im = acts.add_parser("import", help="take a model file into the workspace for a dataset")
    im.add_argument("file", help="a file written by `model export` or the app's Download model")
    _dataset_args(im)


def _dataset_args(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", help="a dataset in the workspace")
    which.add_argument("--demo", action="store_true", help="the generated demo shop")


def _ref(ws: Workspace, args: argparse.Namespace) -> DatasetRef:
    if args.demo:
        return DatasetRef.demo()
    ref = DatasetRef.saved(check_name(args.dataset))
    if not ws.has_dataset(ref):
        raise StoreError(f"No dataset named {args.dataset!r} in {ws.root}.")
    return ref


def cmd_model(args: argparse.Namespace) -> Any:
    ws = Workspace()
    if args.action == "list":
        rows = served_models(ws, ws.fingerprint(_ref(ws, args)))
        print(f"{'id':<38}{'ndcg':>8}  model")
        for s in rows:
            score = "-" if s.ndcg is None else f"{s.ndcg:.4f}"
            print(f"{s.serving_id:<38}{score:>8}  {s.label} ({s.note})")
        return [s.serving_id for s in rows]
    if args.action == "export":
        data, _ = export_model(ws, check_name(args.name))
        args.out.write_bytes(data)
        card = model_card(ws, args.name)
        print(f"{args.out}: {card['label']} ({card['model']}), {len(data) / 2**20:.1f} MB, "
              f"trained on {card['dataset'].get('label', 'a dataset')}")
        return card
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"No file {args.file!r}.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelFileError(f"Refused: {path.name} is larger than a model file may be "
                             f"({MAX_FILE_BYTES / 2**20:,.0f} MB).")
    ref = _ref(ws, args)
    done = import_model(ws, path.read_bytes(), ref, ws.load_dataset(ref))
    print(done.message())
    print(f"stored as {done.record.name} in {ws.root}")
    return done.record.name
