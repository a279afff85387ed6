"""Textual screens of the crewtui app."""
