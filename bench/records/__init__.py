"""The record-question evaluation set: bench/records/generate.py writes it from a seed."""
