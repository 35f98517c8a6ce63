"""A study's runs on an existing Dask cluster (``minispectral reproduce ... --scheduler ADDRESS``).

Each run is one task, ``Study.train(spec)``, submitted through dask.distributed's client to the
cluster's workers; each record comes back to the machine that launched the study, which alone
appends it to ``runs.jsonl`` and the run log.  So a worker that dies mid-run leaves nothing
behind: Dask gives its run to another worker (up to the scheduler's ``allowed-failures``), or the
study stops with that run named, and the same command, run again, trains only the missing runs.

The workers import the study's class by module, as ``--jobs`` does: every worker needs this
version of minispectral (``pip install "minispectral[cluster]"``) and the data, under the same
``--data-dir`` or its own ``MINISPECTRAL_DATA``.  Start them with one thread each and
``OPENBLAS_NUM_THREADS=1``: a run is a sequence of NumPy calls that BLAS already spreads over cores.

dask.distributed is an optional extra: nothing here imports it until a scheduler is named.
"""
from __future__ import annotations

import uuid

from ..experiment import RunFailed, WorkerLost


def connect(address: str, timeout: float = 20.0):
    """A dask.distributed Client of the scheduler at ``address``; a clear error when it cannot be used."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed, an optional extra: pip install "
                         "'minispectral[cluster]' (or dask[distributed])") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None


def worker_threads(client) -> int:
    """How many runs the cluster trains at once: its workers' threads, together."""
    return max(1, sum(client.nthreads().values()))


def train_on_cluster(client, study, todo: list[dict], train_one):
    """Yield (spec, record) as the cluster finishes the runs ``todo``; ``train_one(study_class,
    settings, spec)`` trains one run on a worker.

    A run that raises (or whose workers keep dying) stops the study with ``RunFailed``: the runs
    not yet finished are cancelled, the ones yielded before are kept.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    tag = uuid.uuid4().hex[:8]  # keys unique to this invocation: a rerun must not get an old task's result
    futures = {client.submit(train_one, type(study), study.settings, spec, pure=False,
                             key=f"minispectral-{study.name}-{spec['run_id']}-{tag}"): spec
               for spec in todo}
    failed = None
    try:
        for future in as_completed(list(futures), loop=client.loop):  # this client, not a default one
            if failed is not None or future.status == "cancelled":
                continue
            try:
                record = future.result()
            except KilledWorker as exc:
                failed = RunFailed(futures[future]["run_id"], WorkerLost(f"its worker died: {exc}"))
            except Exception as exc:  # the run's own error, raised again here by Dask
                failed = RunFailed(futures[future]["run_id"], exc)
            else:
                yield futures[future], record
                continue
            client.cancel([f for f in futures if not f.done()])
    finally:
        client.cancel([f for f in futures if not f.done()])  # a study stopped here leaves nothing running there
    if failed is not None:
        raise failed from failed.error
