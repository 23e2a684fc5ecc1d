"""Benchmarks behind `nuanxin bench`: each prints its figures as JSON."""
