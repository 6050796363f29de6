"""Gradio chat window."""
