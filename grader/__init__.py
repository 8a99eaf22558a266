"""grader: an autograder for class 108 (weight initialization).

Stages, one subpackage each, one typed object across each boundary:

    submission.load → execute.run (sandbox) → extract.extract → retrain.retrain → checks.run_checks → report
       Submission        Execution              Extracted          Retraining        [CheckResult]       HTML/JSON

`grade()` runs all of it for one file, `batch.grade_folder()` for a class, `check()` inside a
student's own notebook. Class facts come from the rubric (`rubric.load()`), every sentence from
the message catalog (`messages`).
"""

__version__ = "0.2.0"

from .pipeline import GradeResult, Options, grade  # noqa: E402
from .selfcheck import check  # noqa: E402

__all__ = ["grade", "check", "Options", "GradeResult", "__version__"]
