"""The rate-aware DSE of streaming designs (issue 14): design.py (knobs), queue.py (the conditional buffer
as a queue), evaluate.py (the prediction), inputs.py (what it is built from), search.py, pr.py,
validate.py (measured builds), report.py, run.py (the steps, in order)."""
