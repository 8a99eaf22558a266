"""Stage 4, the edge where results become text: the student's report, the class page, the
terminal summary, and the atomic writes that put them on disk.

    student.py     render_report, render_notebook, write_result, Material (one student's files)
    notebook.py    notebook.html: the executed notebook through nbconvert, sanitized, each cell marked
    numbers.py     the per-exercise table of the student's numbers beside the grader's
    class_page.py  summarize, render_class_page (index.html of a batch)
    plots.py       figures as PNG data URIs
    terminal.py    terminal_summary, terminal_safe (every line the CLI prints from a submission)
    output.py      write_text_atomic (raises OutputError)
"""

from .class_page import render_class_page, summarize
from .output import write_text_atomic
from .student import Material, render_notebook, render_report, write_result
from .terminal import terminal_safe, terminal_summary

__all__ = ["render_report", "render_notebook", "write_result", "Material", "terminal_summary", "terminal_safe", "write_text_atomic", "summarize",
           "render_class_page"]
