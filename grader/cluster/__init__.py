"""Grade a class on a Dask cluster: one task per submission, each training run once in the cluster.

    connect.py   reach the scheduler (or start a LocalCluster); refuse unfit workers
    training.py  the grader's training runs as tasks keyed by their content
    grading.py   the task that grades one submission on a worker (the local batch's own process)
    batch.py     the client: plan, send, collect, write the class's files as a local batch does

Dask is imported only when a cluster is asked for (`grade FOLDER --scheduler …` or
`--cluster local`); the local batch never loads it.
"""

from .batch import grade_folder_on_cluster
from .connect import ClusterSpec

__all__ = ["grade_folder_on_cluster", "ClusterSpec"]
