"""The teacher's review pass: overrides and comments kept as data beside the automatic grading.

    book.py     OUT/review.csv or .toml, read and written (ReviewBook: Override, Comment, Basis)
    apply.py    a book applied to each result.json and report.html, idempotently; what needs a look
    panel.py    the review as the student's report shows it
    command.py  `grade review OUT [STUDENT] --set CHECK=POINTS --why … | --comment … | --clear [CHECK]`

The automatic verdict is never lost: an overridden check keeps it beside the teacher's points,
and a result's `review.auto_score` keeps the automatic score. An override holds across regrades
while the submission, the rubric and the automatic verdict it was decided against are the same;
otherwise it is not applied and is listed as needing a look (class page, `grade review OUT`,
and `grade export`, which warns).
"""

from .apply import StudentReview, apply_review, apply_to_folder, needs_look_lines, strip_review
from .book import ReviewBook, ReviewFileError, read_book, review_path, write_book
from .command import ReviewDone, ReviewRequest, review, review_folder

__all__ = ["StudentReview", "apply_review", "apply_to_folder", "needs_look_lines", "strip_review", "ReviewBook",
           "ReviewFileError", "read_book", "review_path", "write_book", "ReviewDone", "ReviewRequest", "review", "review_folder"]
