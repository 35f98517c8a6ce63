"""The papers' studies, each reproducible with one command (``minispectral reproduce ...``).

=========  ==========================================  ======================================
study      what                                        paper (digest: paper.md)
=========  ==========================================  ======================================
params     accuracy and parameter count against N2     Phys. Rev. E 2021, §4–§5, §7
sparse     dynamic magnitude pruning, 784→500→500→10   Phys. Rev. E 2021, §6
pruning    removing hidden nodes ranked by |lam_out|   Sci. Rep. 2022, §8–§9
pruning3   the same on three hidden layers of 500      Sci. Rep. 2022, §8–§9
init       phi from the papers' recipe or Glorot         PRE §4–§5, NC §7, later layers §10
=========  ==========================================  ======================================

Every study writes one JSON line per training run into its output folder (``runs.jsonl``),
skips the runs already there when it is started again, and rebuilds ``table.md`` and its
figures from whatever runs exist, naming the ones still missing.  ``--quick`` runs a small
version in seconds, for tests and lessons.
"""
from .common import Study, load_records, run_study
from .init_study import InitStudy
from .params import ParamsStudy
from .pruning_study import DeepPruningStudy, PruningStudy
from .sparse import SparseStudy

STUDIES = {"params": ParamsStudy, "sparse": SparseStudy, "pruning": PruningStudy, "pruning3": DeepPruningStudy,
           "init": InitStudy}

__all__ = ["STUDIES", "DeepPruningStudy", "InitStudy", "ParamsStudy", "PruningStudy", "SparseStudy", "Study", "load_records", "run_study"]
