"""Textual widgets of the crewtui app."""
