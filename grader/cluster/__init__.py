"""Grade a class on a Dask cluster: one task per submission, each training run once in the cluster.

    connect.py   reach the scheduler (or start a LocalCluster); refuse unfit workers
    grading.py   the task that grades one submission on a worker (the local batch's own process)
    batch.py     the client: plan, send, collect, write the class's files as a local batch does

The training runs themselves are the retraining engine's Dask backend (grader/retrain/dask.py).
Dask is imported only when a cluster is asked for (`grade FOLDER --scheduler …` or
`--cluster local`); the local batch never loads it.
"""

from .batch import grade_folder_on_cluster
from .connect import ClusterSpec

__all__ = ["grade_folder_on_cluster", "ClusterSpec"]
