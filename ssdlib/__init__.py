"""ssdlib: the helper package behind the ssd-math notebooks.

Each module holds one concern of the study (data, contamination, generation, grading,
statistics, self-distillation, training, plots); the numbered notebooks only call into it.
"""

__version__ = "0.1.0"
