"""Source health: checking the sources of live articles in the background
(targets.py: what a source points at; fetch.py: asking the web; checking.py: the
run; problems.py: what the desk is told)."""
