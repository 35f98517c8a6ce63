"""Re-execute lessons and write their paired notebooks with outputs (full mode, plots kept).

    cd lessons && python build_notebooks.py 03_softmax_cross_entropy.py [more.py ...]

Single-threaded BLAS keeps the timings sane on a small shared machine.
"""
import os
import sys
import time

import jupytext
import nbclient

HERE = os.path.dirname(os.path.abspath(__file__))
for var in ("MPLBACKEND", "MINISPECTRAL_FAST"):  # Agg would drop the plots; FAST would shrink the lesson
    os.environ.pop(var, None)
os.environ.setdefault("MINISPECTRAL_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
os.environ["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")
os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

for source in sys.argv[1:]:
    start = time.perf_counter()
    notebook = jupytext.read(source)
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": HERE}}).execute()
    jupytext.write(notebook, os.path.splitext(source)[0] + ".ipynb")
    print(f"{source}: {time.perf_counter() - start:.1f} s")
