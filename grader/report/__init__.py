"""Stage 4, the edge where results become text: the student's report, the class page, the
terminal summary, and the atomic writes that put them on disk.

    student.py     render_report, write_result, Material (one student's report.html + result.json)
    class_page.py  summarize, render_class_page (index.html of a batch)
    plots.py       figures as PNG data URIs
    terminal.py    terminal_summary
    output.py      write_text_atomic (raises OutputError)
"""

from .class_page import render_class_page, summarize
from .output import write_text_atomic
from .student import Material, render_report, write_result
from .terminal import terminal_summary

__all__ = ["render_report", "write_result", "Material", "terminal_summary", "write_text_atomic", "summarize",
           "render_class_page"]
