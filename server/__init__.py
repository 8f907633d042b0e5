"""Rounds: a self-hosted virtual conference platform for continuing medical education."""
