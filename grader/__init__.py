"""grader: an autograder for class 108 (weight initialization).

Pipeline: submission.load → execute.run (sandbox) → extract.extract → retrain.run_all →
checks.run_checks → report.render. `grade()` runs all of it for one file.
"""

__version__ = "0.1.0"

from .pipeline import GradeResult, Options, grade  # noqa: E402
from .selfcheck import check  # noqa: E402

__all__ = ["grade", "check", "Options", "GradeResult", "__version__"]
