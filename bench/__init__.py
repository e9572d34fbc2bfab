"""Benchmarks for pvemcp: `python -m bench` runs them all and prints markdown tables.

They measure and report; they never assert on timing, so a slow machine prints slow numbers
instead of failing a build.
"""
