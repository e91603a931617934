"""Evaluation: sample and grade a table of prompts under named decodes (03, 05, 06), the
baseline findings of 03, and the figures of the decode-only baselines."""
